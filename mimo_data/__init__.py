"""mimo_data: raw web pages and PDFs to reasoning-dense, tokenized pretraining shards."""

__version__ = "0.1.0"
