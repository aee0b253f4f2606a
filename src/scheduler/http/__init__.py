"""What only HTTP needs (middleware, rendering), kept apart from the domain services."""
