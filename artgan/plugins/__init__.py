"""artgan's built-in plugins. Each module registers through the same hooks as a
third-party plugin; ``registry.toml`` lists them. Hook modules stay torch-free and
point at their implementations with lazy ``"module:attribute"`` factories."""
