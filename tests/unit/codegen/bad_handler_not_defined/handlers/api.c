#include "tf_spec.h"

int tf_api_proto(tf_req_t *req);
/*
int tf_api_in_comment(tf_req_t *req)
{
    return 0;
}
*/
static const char *s = "\
int tf_api_in_string(tf_req_t *req) {";
int tf_api_real(tf_req_t *req)
{
    (void)s;
    return 0;
}
int tf_api_two_lines(tf_req_t *req,
                     int unused)
{
    return 0;
}
