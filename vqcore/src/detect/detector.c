/* placeholder, being written */
typedef int vq__placeholder_detector;
