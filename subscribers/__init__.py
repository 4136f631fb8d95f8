"""The audience: subscribers, lists, segments, consent and suppression.

A leaf behind a narrow interface: the pipeline asks it who gets which variant
(`Audience.resolve`) and never touches its tables directly.
"""
