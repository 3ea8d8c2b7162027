"""The SmartSpec domain: what the Autopilot understands about a workspace.

Pure Python with no Django imports, so the engine, the pages, the API and the management
commands all apply the same rules, and the rules can be tested without a database.
"""
