"""duban on Telegram (python-telegram-bot 22).

- `channel`: `TelegramChannel`: connecting (polling or webhook), updates in, proactive sends out;
- `inbound`: an update's text, addressing and media, as the engine reads them;
- `outbound`: a `Reply` as messages with inline keyboards and attachments;
- `limits`: Telegram's flood limits (`TelegramRateLimiter`, PTB's `AIORateLimiter` extended).
"""
