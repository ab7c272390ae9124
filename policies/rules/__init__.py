"""One module per kind of rule: each tells the earliest instant at which it allows a touch."""
