"""Addressee numbers (宛名番号): one 統合宛名番号 per person, linked to 個人番号 and business numbers.

A 統合宛名 system gives each person the municipality deals with, resident or not (a taxpayer living
elsewhere, say), one integrated addressee number (統合宛名番号), and links it to the person's
個人番号 and to each standardized business's own 業務宛名番号. It also keeps the link from a JPKI
certificate serial number to the person (シリアル番号紐付情報), which application management in the
LGWAN zone receives as a table without 個人番号.
"""
