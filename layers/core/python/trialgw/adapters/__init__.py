"""Adapters: the ports implemented over AWS (boto3). Clients are built lazily and reused."""
