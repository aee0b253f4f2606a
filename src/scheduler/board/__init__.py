"""The day board and week view: a location's day laid out for the front desk."""
