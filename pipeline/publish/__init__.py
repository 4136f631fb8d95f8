"""Syndication out: after a send completes, each sent issue's public copy is kept
(snapshot), and the archive, its pages and feeds, the static export and the WebSub
pings are made from those copies only. See model.py for the shapes every part shares."""
