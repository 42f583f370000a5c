"""Use cases: pure logic over the ports. Never imports boto3, never reads os.environ."""
