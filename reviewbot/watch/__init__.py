"""The list bot: sources (lore, public-inbox git, a git branch) feeding one state machine.

intake (record each message once) -> reviewer (review ready series once) ->
sender (deliver replies and checks); :mod:`reviewbot.watch.bot` ties them.
"""
