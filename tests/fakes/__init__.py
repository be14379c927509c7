"""Fakes of the outside world (Telegram Bot API, WeCom API) served on 127.0.0.1 for tests and benchmarks."""
