"""Configuration: one TOML file, validated once at the edge."""
