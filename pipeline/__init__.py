"""io-insights: the weekly IO Insights newsletter pipeline.

Data flows one way: gather -> store -> compose -> render -> deliver -> report.
"""

__version__ = "0.1.0"
