"""The demo: synthetic skies with a known truth and the project that runs the seed's Full
Example on them."""
