// shared tool helpers
