#!/usr/bin/python3
"""End-to-end checks of the plugin as users run it: the gst-launch lines of
the element docs exist in pipelines/, a gst-launch pipeline on vtest.avi
writes a decodable MP4 with the boxes drawn where the detections are, the
PyGObject example prints detections read from the bus, and the camera
script falls back to a live test pattern.

Needs GST_PLUGIN_PATH (meson test sets it) and the default model."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

SOURCE = os.environ.get("VQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PIPELINES = os.path.join(SOURCE, "pipelines")
VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
FRAMES = 20


def element_chain(line):
    """Element names of a gst-launch line, properties and caps dropped."""
    names = []
    line = line[line.index("gst-launch-1.0") + len("gst-launch-1.0"):]
    for part in line.split("!"):
        words = [w for w in part.split() if not w.startswith("-") and "=" not in w
                 and not w.startswith('"') and w != "gst-launch-1.0"]
        if words and "/" not in words[0] and not words[0].startswith("$"):
            names.append(words[0].strip('"'))
    return names


def decode_frames(path, count=0):
    """The first `count` (0: all) frames of a video as (width, height,
    I420 bytes) tuples: the Y plane comes first, and comparing it needs no
    colour conversion (which may differ between the AVI and the MP4)."""
    limit = f"identity eos-after={count} ! " if count else ""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! decodebin ! {limit}videoconvert ! '
        "video/x-raw,format=I420 ! appsink name=sink sync=false")
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frames = []
    while True:
        sample = sink.emit("try-pull-sample", 30 * Gst.SECOND)
        if sample is None:
            break
        s = sample.get_caps().get_structure(0)
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        assert ok
        frames.append((s.get_value("width"), s.get_value("height"), bytes(info.data)))
        buf.unmap(info)
    pipeline.set_state(Gst.State.NULL)
    return frames


def messages_of(log):
    """The vqdetect element messages printed by gst-launch -m."""
    out = []
    for line in log.splitlines():
        if "vqdetect, timestamp=" not in line:
            continue
        s = Gst.Structure.from_string(line[line.index("vqdetect, timestamp="):])[0]
        assert s is not None, line
        out.append(s)
    return out


class DocLines(unittest.TestCase):
    def test_doc_pipelines_exist(self):
        scripts = ""
        for name in sorted(os.listdir(PIPELINES)):
            if name.endswith((".sh", ".py")):
                with open(os.path.join(PIPELINES, name)) as f:
                    scripts += f.read()
        launched = [element_chain(l) for l in scripts.splitlines() if "gst-launch-1.0" in l]
        found = 0
        for source in ("gstvqdetect.c", "gstvqoverlay.c"):
            with open(os.path.join(SOURCE, "plugins", source)) as f:
                doc = f.read().split("*/", 1)[0]
            lines = [l.strip(" *") for l in doc.splitlines() if "gst-launch-1.0" in l]
            self.assertTrue(lines, f"{source}: no example launch line")
            for line in lines:
                self.assertIn(element_chain(line), launched, f"{source}: {line}")
                found += 1
        self.assertGreaterEqual(found, 2)


class LaunchPipeline(unittest.TestCase):
    def test_vtest_to_mp4(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.mp4")
            cmd = ["gst-launch-1.0", "-e", "-m", "filesrc", f"location={VTEST}", "!",
                   "decodebin", "!", "identity", f"eos-after={FRAMES}", "!", "videoconvert", "!",
                   "vqdetect", "!", "vqoverlay", "thickness=4", "show-labels=false", "!",
                   "videoconvert", "!", "x264enc", "speed-preset=ultrafast", "pass=quant", "quantizer=8", "!",
                   "mp4mux", "!", "filesink", f"location={out}"]
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            messages = messages_of(run.stdout)
            # identity's eos-after sometimes lets one frame fewer through
            # (seen in CI, as in the leak test): one message per frame that
            # reached vqdetect, and the MP4 holds exactly those frames.
            self.assertIn(len(messages), (FRAMES - 1, FRAMES))
            self.assertEqual([m.get_value("frame-number") for m in messages],
                             list(range(len(messages))))
            # Not the last frame: avdec may recycle the memory of the frame
            # it decoded when identity answers EOS.
            k = FRAMES // 2
            people = [d for d in messages[k].get_value("detections")
                      if d.get_value("label") == "person" and d.get_value("confidence") > 0.5]
            self.assertGreaterEqual(len(people), 2)

            drawn = decode_frames(out)
            self.assertEqual(len(drawn), len(messages))
            original = decode_frames(VTEST, FRAMES)
            w, h, after = drawn[k]
            _, _, before = original[k]
            # Along the drawn outline the picture changed a lot; inside the
            # boxes (away from the outline) only by compression noise.
            edge, inner = [], []
            for d in people:
                x, y = int(d.get_value("x")), int(d.get_value("y"))
                bw, bh = int(d.get_value("width")), int(d.get_value("height"))
                for yy in range(y + 8, y + bh - 8, 4):
                    edge.append(pixel_diff(before, after, w, x + 1, yy))
                    inner.append(pixel_diff(before, after, w, x + bw // 2, yy))
            self.assertGreater(sum(edge) / len(edge), 60, "no outline where the boxes are")
            self.assertLess(sum(inner) / len(inner), 12, "picture changed inside the boxes")


def pixel_diff(a, b, width, x, y):
    """Sum of the absolute Y, U and V differences at (x, y) of two I420
    frames (768x576: no row padding). Chroma matters: a box's colour may
    have about the luma of the picture under it."""
    height = len(a) * 2 // 3 // width
    luma = y * width + x
    u = width * height + (y // 2) * (width // 2) + x // 2
    v = u + (width // 2) * (height // 2)
    return sum(abs(a[i] - b[i]) for i in (luma, u, v))


class VulkanBackend(unittest.TestCase):
    """backend=vulkan (any Vulkan device, lavapipe included) finds the same
    people as the CPU reference on the same frames."""

    def detect(self, backend, *props):
        cmd = ["gst-launch-1.0", "-m", "filesrc", f"location={VTEST}", "!", "decodebin", "!",
               "identity", "eos-after=4", "!", "videoconvert", "!", "vqdetect",
               f"backend={backend}", *props, "!", "fakesink"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    def test_precision_property(self):
        # Each precision asked for is the one the messages report.
        for precision in ("fp32", "fp16"):
            run = self.detect("vulkan", f"precision={precision}")
            if run.returncode != 0 and "No usable compute backend" in run.stdout + run.stderr:
                self.skipTest("no Vulkan device")
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            messages = messages_of(run.stdout)
            self.assertTrue(messages)
            for m in messages:
                self.assertEqual(m.get_value("precision"), precision)

    def test_vulkan_matches_cpu(self):
        vulkan = self.detect("vulkan")
        if vulkan.returncode != 0 and "No usable compute backend" in vulkan.stdout + vulkan.stderr:
            self.skipTest("no Vulkan device")
        self.assertEqual(vulkan.returncode, 0, vulkan.stdout + vulkan.stderr)
        cpu = self.detect("cpu")
        self.assertEqual(cpu.returncode, 0, cpu.stderr)
        # The last frame is left out: avdec may recycle its memory when
        # identity answers EOS, so its content is not reproducible.
        pairs = list(zip(messages_of(cpu.stdout), messages_of(vulkan.stdout)))[:3]
        self.assertEqual(len(pairs), 3)
        for a, b in pairs:
            self.assertEqual(b.get_value("backend"), "vulkan")
            self.assertEqual(a.get_value("precision"), "fp32")
            self.assertIn(b.get_value("precision"), ("fp32", "fp16"))
            strong = [d for d in a.get_value("detections") if d.get_value("confidence") > 0.5]
            others = list(b.get_value("detections"))
            self.assertTrue(strong)
            for d in strong:
                match = [o for o in others if o.get_value("class-id") == d.get_value("class-id")
                         and abs(o.get_value("x") - d.get_value("x")) < 4
                         and abs(o.get_value("y") - d.get_value("y")) < 4
                         and abs(o.get_value("confidence") - d.get_value("confidence")) < 0.05]
                self.assertTrue(match, f"{d.to_string()} not found on vulkan")


class PythonExample(unittest.TestCase):
    def test_detect_json(self):
        cmd = [sys.executable, os.path.join(PIPELINES, "detect_json.py"), VTEST,
               "--max-frames", "6", "--interval", "3", "--classes", "person"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        self.assertEqual(run.returncode, 0, run.stderr)
        records = [json.loads(l) for l in run.stdout.splitlines()]
        self.assertEqual([r["frame"] for r in records], list(range(6)))
        self.assertEqual([r["inferred"] for r in records], [True, False, False] * 2)
        self.assertEqual([r["frames_skipped"] for r in records], [0, 1, 2, 2, 3, 4])
        self.assertTrue(all(r["width"] == 768 and r["height"] == 576 for r in records))
        self.assertTrue(all(d["label"] == "person" for r in records for d in r["detections"]))
        self.assertGreater(sum(len(r["detections"]) for r in records), 6)
        self.assertTrue(all(r["inference_ms"] > 0 for r in records if r["inferred"]))
        # Carried frames repeat the last inferred frame's boxes exactly.
        self.assertEqual(records[1]["detections"], records[0]["detections"])
        self.assertEqual(records[5]["detections"], records[3]["detections"])

    def test_detect_json_bad_model(self):
        cmd = [sys.executable, os.path.join(PIPELINES, "detect_json.py"), VTEST,
               "--model", "/nonexistent/model.vqm"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("/nonexistent/model.vqm", run.stderr)


class Camera(unittest.TestCase):
    def test_fallback_without_camera(self):
        env = dict(os.environ, NUM_BUFFERS="3", DISPLAY="", WAYLAND_DISPLAY="")
        run = subprocess.run([os.path.join(PIPELINES, "camera.sh"), "/dev/no-such-camera"],
                             capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("live test pattern", run.stderr)
        self.assertEqual(len(messages_of(run.stdout)), 3)


class NoDefaultModel(unittest.TestCase):
    def test_message_says_where_and_how(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, XDG_CACHE_HOME=tmp)
            env.pop("VQDETECT_MODEL", None)
            run = subprocess.run(["gst-launch-1.0", "videotestsrc", "num-buffers=1", "!",
                                  "vqdetect", "!", "fakesink"],
                                 capture_output=True, text=True, timeout=120, env=env)
            self.assertNotEqual(run.returncode, 0)
            log = run.stdout + run.stderr
            self.assertIn("no default model", log)
            self.assertIn(tmp, log)
            self.assertIn("setup.sh", log)


if __name__ == "__main__":
    Gst.init(None)
    unittest.main(verbosity=2)
