"""Shared PDF output: Japanese fonts, verification QR codes, document marks and PAdES seals (電子公印).

Businesses render with reportlab (``fonts.register_fonts()`` once per process), draw the QR code
(``qr.draw_qr``), mark the document (``metadata.mark_document``) and seal it
(``signing.sign_pdf`` with a prepared ``signing.PdfSealer``); a presented PDF is checked with
``signing.verify_pdf``.
"""
