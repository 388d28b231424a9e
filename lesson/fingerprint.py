"""The fingerprint arithmetic of the tests' self-checks: fixed inputs and weights, and a few numbers per result.

A test cell gives your part weights and inputs drawn from fixed seeds (``seed_weights`` and ``normal``; the seeds
come from NumPy's ``RandomState``, whose numbers never change between versions). Each result is reduced to its
fingerprint: its shape, its dtype and three sums of its values (``fingerprint``, ``sums``). Two fingerprints
agree when their sums agree to a relative tolerance (``close``, ``agree``); ``difference`` says in words what
differs. In: tensors (PyTorch) or arrays (NumPy). Out: fingerprints as plain lists, and sentences.
"""

import zlib

import numpy as np

TOLERANCE = 1e-3  # relative, on each of a result's three sums (crops, whose values are copied, get 1e-9)


def normal(shape, seed):
    """A float32 tensor of `shape` with standard-normal values drawn from `seed` (the same on every machine)."""
    import torch  # here, not above: the grader reads the fingerprints without PyTorch

    return torch.from_numpy(np.random.RandomState(seed).standard_normal(tuple(shape)).astype(np.float32))


def seed_weights(module, seed):
    """Give every parameter of `module` values drawn from `seed` and the parameter's name ("conv1.weight", ...),
    so that a part gets the same weights however its layers were created; returns `module`. A parameter reachable
    by several names (a block kept in an nn.ModuleList and as an attribute) takes the name without list indices,
    then the shortest: "contract1.conv1.weight" rather than "contracting.0.conv1.weight"."""
    import torch

    with torch.no_grad():
        for name, parameter in preferred_names(module.named_parameters(remove_duplicate=False)).values():
            parameter.copy_(0.3 * normal(parameter.shape, seed * 1000 + zlib.crc32(name.encode()) % 1000))
    return module


def preferred_names(named):
    """{id(thing): (name, thing)} from (name, thing) pairs, one name per thing: the name without list indices,
    then the shortest ("contract1.conv1" rather than "contracting.0.conv1")."""
    found = {}
    for name, thing in named:
        rank = (sum(part.isdigit() for part in name.split(".")), len(name), name)
        if id(thing) not in found or rank < found[id(thing)][0]:
            found[id(thing)] = (rank, thing)
    return {key: (rank[2], thing) for key, (rank, thing) in found.items()}


def sums(values):
    """Three numbers that tell arrays of one shape apart: the sum, the sum of absolute values and a sum
    weighted by position (so that the same values in another place, e.g. another window of an image, differ)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return []
    weights = np.linspace(-1.0, 1.0, values.size).reshape(values.shape)
    return [float(values.sum()), float(np.abs(values).sum()), float((values * weights).sum())]


def close(mine, theirs, tolerance=TOLERANCE):
    """Whether two lists of `sums` agree, each to `tolerance` of the largest of `theirs`."""
    if len(mine) != len(theirs):
        return False
    scale = 1.0 + max((abs(value) for value in theirs), default=0.0)
    return all(abs(one - other) <= tolerance * scale for one, other in zip(mine, theirs))


def fingerprint(result, with_values=True):
    """[shape, dtype, sums] of a tensor (the sums left out when only the shape is checked)."""
    import torch

    result = torch.as_tensor(result).detach()
    print_ = [list(result.shape), str(result.dtype).replace("torch.", "")]
    return print_ + [sums(result.cpu().double().numpy())] if with_values else print_


def difference(key, mine, theirs, tolerance=TOLERANCE):
    """What differs between two fingerprints of the result `key`, in words ("" when they agree)."""
    if mine[0] != theirs[0]:
        return f"{key} should have shape {tuple(theirs[0])}, got {tuple(mine[0])}"
    if mine[1] != theirs[1]:
        return f"{key} should be of dtype {theirs[1]} (the input's), got {mine[1]}"
    if len(theirs) < 3 or close(mine[2], theirs[2], tolerance):
        return ""
    if not all(np.isfinite(mine[2])):
        return f"{key} holds values that are not finite (nan or inf)"
    return (
        f"{key} has the right shape but other values than the specification's (the sum of its absolute "
        f"values is {mine[2][1]:.6g}, the specification's {theirs[2][1]:.6g})"
    )


def differences(mine, answer, tolerance=TOLERANCE):
    """Every difference between fingerprints {key: print} and an answer of the specification."""
    found = [
        difference(key, mine[key], print_, tolerance) if key in mine else f"{key} is missing"
        for key, print_ in answer.items()
    ]
    return [text for text in found if text]


def agree(mine, theirs, tolerance=TOLERANCE):
    """Whether two answers agree: the same error text, or fingerprints {key: print} with the same keys that
    agree within `tolerance`."""
    if isinstance(mine, str) or isinstance(theirs, str):
        return mine == theirs
    return set(mine) == set(theirs) and not differences(mine, theirs, tolerance)


def error_text(error):
    """How a raised error is told apart: "Type: message" (its first 300 characters), or "Type" alone."""
    return (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)[:300]
