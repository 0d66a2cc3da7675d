"""retained-mrr: live retained MRR per sales rep, lead source and cohort."""

__version__ = "0.1.0"
