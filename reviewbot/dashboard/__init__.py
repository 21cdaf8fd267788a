"""The maintainer dashboard: a static site (and a local server) over the bot's state.

``data`` reads the database into plain models, ``stats`` and ``charts`` sum and
draw them, ``maintainers`` maps files to MAINTAINERS entries, ``markdown``
renders rule docs, ``build`` writes the site and ``serve`` serves it.
"""
