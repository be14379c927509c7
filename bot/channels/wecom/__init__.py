"""duban on WeCom (企业微信 / 政务微信) as a self-built application (自建应用), with wechatpy.

- `channel`: `WecomChannel`: callbacks in, replies and proactive messages out through message/send;
- `callback`: URL verification, signature check and decryption of callbacks, their XML;
- `client`: wechatpy's API client under the configured base URL, with bounded token retries;
- `robot`: the group robot (群机器人) webhook for digests, and a channel of only that.
"""
