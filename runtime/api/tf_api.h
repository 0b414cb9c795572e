/*
 * tf_api.h - helpers shared by the route handlers in runtime/api/.
 */
#ifndef TF_API_H
#define TF_API_H

#include <jansson.h>

#include "tf_spec.h"

/* A tier as the API shows it (GET /v1/tiers, GET /v1/client/tier). */
json_t *tf_tier_to_json(const tf_tier_t *t);

#endif
