"""From a plan to records: analyze one tensor, compare one pair, the one loop that runs them."""
