"""Every upload can be watched: it publishes its live state (publish), which `s3tui ps` and
`s3tui watch` read (store, model, ps, follow)."""
