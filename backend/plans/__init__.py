"""Planning of the annotation workload: halves, reconstructions, bulks and batches.

Pure and database-free (paper, section 3.1 and appendix 1.3); the resulting plan serialises to
JSON and is stored and versioned by the caller.
"""
