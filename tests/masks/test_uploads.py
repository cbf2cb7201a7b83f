"""Uploaded mask files: every format read, every unsafe or broken file refused before anything is
written, with the file and the reason named."""

import io
import stat
import zipfile

import h5py
import numpy as np
import pytest
import tifffile

from jupyterlab_raydata.analysis import masks as analysis_masks
from jupyterlab_raydata.errors import BadRequest
from jupyterlab_raydata.masks.uploads import MAX_MEMBERS, Limits, UploadStore, parse_upload

SHAPE = (6, 8)
LIMITS = Limits(max_bytes=64 * 1024)


@pytest.fixture
def used():
    m = np.ones(SHAPE, bool)
    m[1:3, 2:5] = False
    m[5, 7] = False
    return m


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def tiff(array) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


def edf(tmp_path, array) -> bytes:
    path = analysis_masks.save_mask(tmp_path / "m.edf", np.asarray(array, bool))
    return path.read_bytes()


def hdf5(**datasets) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name, value in datasets.items():
            f[name.replace("__", "/")] = value
    return buffer.getvalue()


def archive(members: dict, *, mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            z.writestr(info, data)
    return buffer.getvalue()


def read(name, data, **kwargs):
    return parse_upload(name, data, limits=LIMITS, expected_shape=kwargs.pop("shape", SHAPE), **kwargs)


def refused(name, data, **kwargs) -> str:
    with pytest.raises(BadRequest) as info:
        read(name, data, **kwargs)
    assert info.value.error == "Upload refused"
    return info.value.detail


def test_every_format_reads_to_the_nonzero_pixels(tmp_path, used):
    for name, data in [
        ("m.npy", npy(used.astype(np.uint8))),
        ("m.tif", tiff(used.astype(np.uint16))),
        ("m.tiff", tiff(used.astype(np.float32))),
        ("m.h5", hdf5(entry__mask=used.astype(np.int32), entry__frames=np.zeros((2, 3, 4)))),
        ("m.hdf5", hdf5(mask=used)),
    ]:
        (parsed,) = read(name, data)
        np.testing.assert_array_equal(parsed.nonzero, used, err_msg=name)
        assert parsed.suggested_polarity == "used"
    # EDF masks come from silx / pyFAI, where non-zero marks a masked pixel: that is the suggestion.
    (parsed,) = read("blemish.edf", edf(tmp_path, ~used))
    np.testing.assert_array_equal(parsed.nonzero, ~used)
    assert parsed.suggested_polarity == "masked" and parsed.source == "blemish.edf"


def test_hdf5_dataset_is_picked_when_several_could_be_the_mask(used):
    data = hdf5(a=used, b=~used)
    assert "pick the mask's dataset" in refused("two.h5", data) and "/a, /b" in refused("two.h5", data)
    (parsed,) = read("two.h5", data, dataset="b")
    np.testing.assert_array_equal(parsed.nonzero, ~used)
    assert parsed.source == "two.h5:/b"
    assert "no dataset '/c'" in refused("two.h5", data, dataset="c")


def test_a_zip_gives_every_member(tmp_path, used):
    data = archive(
        {
            "masks/gaps.npy": npy(used),
            "masks/blemish.edf": edf(tmp_path, ~used),
            "masks/": b"",
            "__MACOSX/._gaps.npy": b"junk",
            ".DS_Store": b"junk",
        }
    )
    parsed = read("bundle.zip", data)
    assert [p.source for p in parsed] == ["bundle.zip/masks/gaps.npy", "bundle.zip/masks/blemish.edf"]
    assert [p.suggested_polarity for p in parsed] == ["used", "masked"]
    for p in parsed:
        np.testing.assert_array_equal(p.nonzero, used if p.suggested_polarity == "used" else ~used)


def test_shape_is_checked_from_the_header_and_names_both_shapes(used):
    wrong = npy(np.ones((5, 8), np.uint8))
    detail = refused("m.npy", wrong)
    assert detail == "m.npy: the array has shape (5, 8) but the run's detector image has (6, 8)"
    # The header alone decides: a file cut short after its header still gets the shape answer.
    header_only = wrong[: wrong.index(b"\n") + 1]
    assert "has shape (5, 8)" in refused("m.npy", header_only)
    assert "(5, 8)" in refused("m.tif", tiff(np.ones((5, 8), np.uint8)))
    assert "(5, 8)" in refused("m.h5", hdf5(mask=np.ones((5, 8))))
    assert "a mask must be a 2-D image" in refused("m.npy", npy(np.ones((2, 6, 8))))
    assert "type" in refused("m.npy", npy(np.array([["a"] * 8] * 6)))


def test_npy_files_are_never_unpickled():
    pickled = io.BytesIO()
    np.save(pickled, np.array([[{"x": 1}] * 8] * 6, dtype=object), allow_pickle=True)
    assert "Python objects, which are never unpickled" in refused("m.npy", pickled.getvalue())


def test_hdf5_links_and_storage_outside_the_file_are_refused(tmp_path):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["elsewhere"] = h5py.ExternalLink("/etc/passwd.h5", "/mask")
    assert "'/elsewhere' is an external link" in refused("m.h5", buffer.getvalue())

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("mask", shape=SHAPE, dtype="u1", external=[("/etc/passwd", 0, 48)])
    assert "'/mask' keeps its data in external files" in refused("m.h5", buffer.getvalue())

    with h5py.File(tmp_path / "source.h5", "w") as f:
        f["data"] = np.ones(SHAPE)
    layout = h5py.VirtualLayout(shape=SHAPE, dtype="f8")
    layout[:] = h5py.VirtualSource(str(tmp_path / "source.h5"), "data", shape=SHAPE)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_virtual_dataset("mask", layout)
    assert "'/mask' is a virtual dataset" in refused("m.h5", buffer.getvalue())


def test_hdf5_soft_links_and_repeated_hard_links_are_fine(used):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["data/mask"] = used
        f["alias"] = h5py.SoftLink("/data/mask")
        f["again"] = f["data"]  # a second hard link to the same group
    (parsed,) = read("m.h5", buffer.getvalue())
    np.testing.assert_array_equal(parsed.nonzero, used)


@pytest.mark.parametrize(
    "member,reason",
    [
        ("../escape.npy", "climbs out of the archive with '..'"),
        ("masks/../../escape.npy", "climbs out of the archive with '..'"),
        ("..\\escape.npy", "climbs out of the archive with '..'"),
        ("/etc/escape.npy", "is an absolute path"),
        ("C:/escape.npy", "is an absolute path"),
    ],
)
def test_zip_slip_names_are_refused(used, member, reason):
    assert refused("bad.zip", archive({member: npy(used)})) == f"bad.zip: member '{member}' {reason}"


def test_zip_links_encryption_nesting_and_unknown_types_are_refused(used):
    link = archive({"link.npy": b"/etc/passwd"}, mode=stat.S_IFLNK | 0o777)
    assert "member 'link.npy' is a symbolic link" in refused("l.zip", link)
    encrypted = bytearray(archive({"m.npy": npy(used)}))
    # Set the "encrypted" flag bit in both the local header and the central directory entry.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = encrypted.index(signature) + offset
        encrypted[at] |= 0x1
    assert "member 'm.npy' is encrypted" in refused("e.zip", bytes(encrypted))
    nested = archive({"inner.zip": archive({"m.npy": npy(used)})})
    assert refused("n.zip", nested) == "n.zip/inner.zip: archives inside archives are not read"
    assert "unsupported file type" in refused("t.zip", archive({"notes.txt": b"hello"}))
    assert refused("empty.zip", archive({"masks/": b""})) == "empty.zip: the archive holds no mask files"


def test_zip_bombs_are_refused_before_inflating(used):
    many = archive({f"m{i}.npy": npy(used) for i in range(MAX_MEMBERS + 1)})
    assert f"{MAX_MEMBERS + 1} members, more than the {MAX_MEMBERS} allowed" in refused("many.zip", many)
    zeros = np.zeros((1024, 1024), np.uint8)  # 1 MB of zeros deflates to about 1 kB
    bomb = archive({f"z{i}.npy": npy(zeros) for i in range(9)})
    assert len(bomb) < LIMITS.max_bytes
    assert "inflates to" in refused("bomb.zip", bomb, shape=None)
    # A member whose declared size is a lie stops at the declared size (and fails its checksum).
    liar = bytearray(archive({"m.npy": npy(used.astype(np.uint8))}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = liar.index(signature) + offset
        liar[at : at + 4] = (10).to_bytes(4, "little")
    assert "cannot be extracted" in refused("liar.zip", bytes(liar))


def test_size_limit_and_unknown_types_and_corrupt_files():
    assert "over the 65536 bytes allowed" in refused("big.npy", b"\0" * (LIMITS.max_bytes + 1))
    assert "unsupported file type" in refused("mask.png", b"\x89PNG")
    for name in ("m.npy", "m.tif", "m.edf", "m.h5", "m.zip"):
        detail = refused(name, b"this is not a mask file at all" * 10)
        assert detail.startswith(f"{name}: not a"), detail


def test_store_keeps_accepted_arrays_by_content(tmp_path, used):
    store = UploadStore(tmp_path / "uploads")
    (parsed,) = read("m.npy", npy(used))
    ident = store.put(parsed)
    assert store.put(parsed) == ident and len(ident) == 24
    np.testing.assert_array_equal(store.get(ident), used)
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [f"{ident}.json", f"{ident}.npy"]


def test_service_writes_nothing_when_any_file_fails(service, used):
    good = ("good.npy", npy(used))
    bad = ("bad.zip", archive({"../x.npy": npy(used)}))
    with pytest.raises(BadRequest, match=r"bad\.zip: member '\.\./x\.npy' climbs out"):
        service.upload([good, bad], shape=SHAPE)
    assert not service.uploads.root.exists()
    answer = service.upload([good], shape=SHAPE)
    assert [u.nonzero for u in answer.uploads] == [int(used.sum())]
