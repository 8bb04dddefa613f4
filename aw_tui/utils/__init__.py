"""The original astromatic_wrapper's ``utils`` names, as thin documented aliases."""
