"""The channels: Telegram, WeCom and the console, each a thin platform part on one shared `edge`."""
