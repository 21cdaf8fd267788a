"""Default configuration and kernel API tables (data only), installed as reviewbot_config."""
