"""What the tests share: HTTP servers on 127.0.0.1, feed builders, configs, archive checks,
the bot tests' newsroom and the answers tests' archive."""
