import subprocess
import sys

import pytest

from jupyterlab_raydata import analysis

SERVER_MODULES = ("tornado", "jupyter_server", "jupyterlab_raydata.handlers", "jupyterlab_raydata.jobs")


def test_importable_without_server_modules():
    code = (
        "import sys\n"
        "import jupyterlab_raydata.analysis as a\n"
        f"for name in {list(analysis._MODULES)!r}: getattr(a, name)\n"
        "a.multi_tau, a.simulate_speckle\n"
        f"bad = [m for m in sys.modules if m.startswith({SERVER_MODULES!r})]\n"
        "assert not bad, bad\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        # Compiled kernels load on first use: importing stays cheap.
        "assert 'numba' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shortcuts_and_dir():
    assert analysis.multi_tau is analysis.correlation.multi_tau
    assert "two_time" in dir(analysis)
    with pytest.raises(AttributeError):
        analysis.nope  # noqa: B018
