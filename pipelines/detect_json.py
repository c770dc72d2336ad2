#!/usr/bin/python3
"""Detects objects in a video file and prints one JSON object per frame.

The way an application embeds vqdetect: build the pipeline, run it, and
read the detections from the "vqdetect" element messages on the bus (no
pad probe, no custom parser). The output lines follow `vq detect`'s
schema, plus the element's telemetry:

  {"frame": 0, "pts": 0.0, "width": 768, "height": 576, "detections":
   [{"label": "person", "class_id": 0, "confidence": 0.81, "x": 10.5,
     "y": 20.0, "w": 30.0, "h": 80.0}], "inferred": true,
   "inference_ms": 123.4, "frames_skipped": 0}

  pipelines/detect_json.py [INPUT] [--interval N] [--classes person,car]
                           [--threshold T] [--max-frames N]

Uses the plugin from $VQ_BUILD_DIR (default ./build) when it is there.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("VQ_BUILD_DIR", os.path.join(ROOT, "build"))
if os.path.isdir(os.path.join(BUILD, "plugins")):
    # Must be set before Gst.init() scans for plugins.
    os.environ["GST_PLUGIN_PATH"] = os.pathsep.join(
        p for p in (os.path.join(BUILD, "plugins"), os.environ.get("GST_PLUGIN_PATH")) if p)

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def detections_of(s):
    """The "detections" array of a vqdetect message as plain dicts."""
    out = []
    for d in s.get_value("detections"):
        out.append({
            "label": d.get_value("label"),
            "class_id": d.get_value("class-id"),
            "confidence": round(d.get_value("confidence"), 4),
            "x": round(d.get_value("x"), 1),
            "y": round(d.get_value("y"), 1),
            "w": round(d.get_value("width"), 1),
            "h": round(d.get_value("height"), 1),
        })
    return out


def frame_record(s):
    return {
        "frame": s.get_value("frame-number"),
        "pts": round(s.get_value("timestamp") / Gst.SECOND, 3),
        "width": s.get_value("width"),
        "height": s.get_value("height"),
        "detections": detections_of(s),
        "inferred": s.get_value("inferred"),
        "inference_ms": round(s.get_value("inference-latency") / 1e6, 1),
        "frames_skipped": s.get_value("frames-skipped"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", nargs="?", default=VTEST)
    parser.add_argument("--interval", type=int, default=1)
    parser.add_argument("--classes", default="")
    parser.add_argument("--threshold", type=float, default=-1.0)
    parser.add_argument("--model", default="")
    parser.add_argument("--max-frames", type=int, default=0,
                        help="stop after N frames (0: the whole file)")
    args = parser.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        "filesrc name=src ! decodebin ! videoconvert ! vqdetect name=detect ! fakesink")
    pipeline.get_by_name("src").set_property("location", args.input)
    detect = pipeline.get_by_name("detect")
    detect.set_property("interval", args.interval)
    detect.set_property("threshold", args.threshold)
    if args.classes:
        detect.set_property("classes", args.classes)
    if args.model:
        detect.set_property("model", args.model)

    loop = GLib.MainLoop()
    state = {"frames": 0, "status": 0}

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.has_name("vqdetect"):
            print(json.dumps(frame_record(msg.get_structure())), flush=True)
            state["frames"] += 1
            if args.max_frames and state["frames"] >= args.max_frames:
                loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"error: {err.message}", file=sys.stderr)
            state["status"] = 1
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # The error message explaining why is already on the bus.
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        if msg:
            print(f"error: {msg.parse_error()[0].message}", file=sys.stderr)
        pipeline.set_state(Gst.State.NULL)
        return 1
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    return state["status"]


if __name__ == "__main__":
    sys.exit(main())
