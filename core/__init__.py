"""The bottom layer: the platform-neutral message contract every other layer speaks.

Messages in and out, choices, attachments, the conversation key, the channel protocol, delivery errors and the
channel ids. It imports nothing of the project but `config`.
"""
