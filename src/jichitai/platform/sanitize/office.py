"""Office documents converted to PDF by LibreOffice headless, then cleaned like any PDF.

The converter runs in a private temporary HOME and profile (macros disabled, external links never
updated), with a timeout and a file-size limit, on a copy named after the detected kind so that the
name a resident gave cannot steer LibreOffice's filter choice. When LibreOffice is not installed
the file is refused.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

from jichitai.platform.sanitize.base import REGISTRY, Sanitizer
from jichitai.platform.sanitize.detect import (
    SIGNAL_EMBEDDED_OBJECTS,
    SIGNAL_EXTERNAL_REFS,
    SIGNAL_MACROS,
    SIGNAL_PDF_HEADER_OFFSET,
    SIGNAL_PE,
    Detection,
)
from jichitai.platform.sanitize.kinds import OFFICE_KINDS, Kind
from jichitai.platform.sanitize.limits import Limits
from jichitai.platform.sanitize.pdf import sanitize_pdf_bytes
from jichitai.platform.sanitize.result import NO_CONVERTER_JA, Cleaned, Method, Refused
from jichitai.platform.sanitize.subproc import ConverterFailed, ConverterTimeout, minimal_env, run_bounded

CONVERSION_FAILED_JA = "文書をPDFに変換できなかったため受け付けられません"
EXTERNAL_REFS_JA = "外部のファイルやサーバーを参照する文書は受け付けられません"
POLYGLOT_JA = "複数の形式として解釈できるファイル（ポリグロット）は受け付けられません"

_EXTENSION = {
    Kind.DOCX: "docx", Kind.XLSX: "xlsx", Kind.PPTX: "pptx",
    Kind.ODT: "odt", Kind.ODS: "ods", Kind.ODP: "odp",
    Kind.DOC: "doc", Kind.XLS: "xls", Kind.PPT: "ppt",
}  # fmt: skip

# Written into the private profile before the first start: macros never run (level 3 = very high,
# execution disabled) and links to other files are never updated (1 = never).
_PROFILE_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""  # noqa: E501


def find_soffice() -> str | None:
    """The LibreOffice executable, or None when the conversion environment is missing."""
    return shutil.which("soffice") or shutil.which("libreoffice")


class OfficeSanitizer(Sanitizer):
    kinds: ClassVar[frozenset[Kind]] = OFFICE_KINDS
    name: ClassVar[str] = "office"

    def sanitize(self, data: bytes, detection: Detection, limits: Limits) -> Cleaned:
        if SIGNAL_PDF_HEADER_OFFSET in detection.signals or SIGNAL_PE in detection.signals:
            # LibreOffice detects formats by content too; a file that is also a PDF or an
            # executable could be read as something other than what was checked here.
            raise Refused("polyglot", POLYGLOT_JA, ", ".join(detection.signals))
        if SIGNAL_EXTERNAL_REFS in detection.signals:
            raise Refused("external_references", EXTERNAL_REFS_JA)
        soffice = find_soffice()
        if soffice is None:
            raise Refused("no_converter", NO_CONVERTER_JA, "LibreOffice (soffice) is not installed")
        pdf_bytes = convert_to_pdf(soffice, data, _EXTENSION[detection.kind], limits)
        cleaned = sanitize_pdf_bytes(pdf_bytes, limits)
        removed = []
        if SIGNAL_MACROS in detection.signals:
            removed.append("VBA macros")
        if SIGNAL_EMBEDDED_OBJECTS in detection.signals:
            removed.append("embedded OLE/ActiveX objects (only their preview is kept)")
        return Cleaned(
            cleaned.output,
            "application/pdf",
            Method.CONVERTED_OFFICE,
            [*removed, "document converted to PDF", *cleaned.removed],
            cleaned.warnings,
        )


def convert_to_pdf(soffice: str, data: bytes, extension: str, limits: Limits) -> bytes:
    with tempfile.TemporaryDirectory(prefix="jichitai-office-") as tmp:
        work = Path(tmp)
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE_XCU, encoding="utf-8")
        src = work / f"input.{extension}"
        src.write_bytes(data)
        outdir = work / "out"
        outdir.mkdir()
        argv = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
            "--convert-to", "pdf", "--outdir", str(outdir), str(src),
        ]  # fmt: skip
        try:
            run_bounded(
                argv,
                cwd=work,
                env=minimal_env(work) | {"SAL_USE_VCLPLUGIN": "svp"},
                timeout=limits.office_timeout_s,
                file_bytes=limits.office_max_output_bytes,
            )
        except (ConverterFailed, ConverterTimeout) as exc:
            raise Refused("conversion_failed", CONVERSION_FAILED_JA, str(exc)) from exc
        result = outdir / "input.pdf"
        if not result.is_file() or result.stat().st_size == 0:
            raise Refused("conversion_failed", CONVERSION_FAILED_JA, "LibreOffice produced no PDF")
        return result.read_bytes()


REGISTRY.register(OfficeSanitizer())
