/* vqcore/vqcore.h — everything public in libvqcore. */
#ifndef VQCORE_VQCORE_H
#define VQCORE_VQCORE_H

#include "detect.h"
#include "detector.h"
#include "engine.h"
#include "error.h"
#include "graph.h"
#include "image.h"
#include "model.h"
#include "tfjs.h"
#include "vqm.h"

#endif /* VQCORE_VQCORE_H */
