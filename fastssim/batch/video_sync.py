"""Which frames of two videos are compared: by presentation time, as ffmpeg's framesync pairs them
(the default), or by index with an offset.

Each pairing is a generator of ``(reference frame index, reference planes, distorted planes)``
ending with ``(None, counts, None)``: the frames each stream held and what did not pair one to one.
"""


def pair_by_index(ref_frames, dist_frames, start, end, offset):
    """``(i, ref planes, dist planes)`` for reference frame i paired with distorted frame
    i + offset, START <= i < END; then the number of frames each stream held (None where not
    read to its end because END was reached)."""
    first = max(start, -offset)
    counts = {"ref": 0, "dist": 0}

    def advance(it, side, n):
        for _ in range(n):
            if next(it, None) is None:
                return False
            counts[side] += 1
        return True

    ok = advance(ref_frames, "ref", first) and advance(dist_frames, "dist", first + offset)
    i = first
    while ok and (end is None or i < end):
        r = next(ref_frames, None)
        if r is not None:
            counts["ref"] += 1
        d = next(dist_frames, None)
        if d is not None:
            counts["dist"] += 1
        if r is None or d is None:
            break
        yield i, r, d
        i += 1
    if end is not None and i >= end:
        counts = None
    else:  # one stream ended first: count the other's remaining frames for the message
        for it, side in ((ref_frames, "ref"), (dist_frames, "dist")):
            for _ in it:
                counts[side] += 1
    yield None, counts, None


def pair_by_time(ref_frames, dist_frames, start, end, where):
    """``(j, ref planes, dist planes)`` as ffmpeg's ``ssim`` and ``psnr`` filters pair frames
    (framesync with the distorted stream as the main input, its defaults): each distorted frame
    with the reference frame shown at its presentation time (the last one starting at or before
    it; the reference's last frame held once it ends), distorted frames before the reference's
    first not scored; once the distorted stream ends, its last frame is held against each later
    reference frame. j is the reference frame's index, START <= j < END. Then ``{"ref", "dist",
    "held", "unpaired", "early", "tail"}``: the frames each stream held, reference frames paired
    more than once, reference frames no distorted frame was shown with (dropped), distorted frames
    before the reference, reference frames after the distorted stream's end.
    """
    counts = {"ref": 0, "dist": 0, "held": 0, "unpaired": 0, "early": 0, "tail": 0}
    uses = {}

    def untimed(side):
        return ValueError(f"{where}: the {side} video has frames without timestamps, which cannot be paired by time; "
                          "pass --frame-sync index")

    def ref_stream():
        for t, planes in ref_frames:
            if t is None:
                raise untimed("reference")
            counts["ref"] += 1
            yield counts["ref"] - 1, t, planes

    refs = ref_stream()
    cur, nxt, last = None, next(refs, None), None
    for t, d in dist_frames:
        counts["dist"] += 1
        if t is None:
            raise untimed("distorted")
        last = d
        while nxt is not None and nxt[1] <= t:
            cur, nxt = nxt, next(refs, None)
        if cur is None:
            counts["early"] += 1
            continue
        if cur[0] < start:
            continue
        if end is not None and cur[0] >= end:
            yield None, None, None  # the window is done: the rest is not read
            return
        uses[cur[0]] = uses.get(cur[0], 0) + 1
        yield cur[0], cur[2], d
    while nxt is not None and last is not None:  # the distorted stream ended: its last frame is held
        if end is not None and nxt[0] >= end:
            yield None, None, None
            return
        if nxt[0] >= start:
            counts["tail"] += 1
            uses[nxt[0]] = uses.get(nxt[0], 0) + 1
            yield nxt[0], nxt[2], last
        nxt = next(refs, None)
    for _ in refs:
        pass
    counts["held"] = sum(n - 1 for n in uses.values())
    counts["unpaired"] = sum(1 for j in range(start, max(uses) if uses else start) if j not in uses)
    yield None, counts, None
