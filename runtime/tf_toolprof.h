/*
 * tf_toolprof - tool profiles: which MCP tools an agent sees.
 *
 * Large catalogues cost agents context. conf's mcp.profiles name sets of
 * tools (glob patterns over tool names); mcp.tier_profiles give a tier a
 * default profile; an agent picks one with ?profile=NAME on the MCP URL
 * (e.g. http://host/v1/mcp?profile=coding). A profile only narrows what the
 * caller's tier allows. Tools outside it are neither listed nor callable.
 */
#ifndef TF_TOOLPROF_H
#define TF_TOOLPROF_H

#include "tf_conf.h"
#include "tf_http.h"

/*
 * The profile in effect for r: the ?profile= query parameter, else the
 * tier's, else NULL (every tool the tier allows). *unknown is set (and NULL
 * returned) when the query names a profile conf does not have.
 */
const tf_conf_profile_t *tf_toolprof_for(tf_req_t *r, int *unknown);

/* Is the tool in the profile (NULL: every tool is)? */
int tf_toolprof_allows(const tf_conf_profile_t *p, const char *tool);

/*
 * May r call tool t under profile p: its tier is high enough, the profile
 * has it, and (for the conformance suite's fixture tools) conf's
 * mcp.conformance is on.
 */
int tf_toolprof_callable(tf_req_t *r, const tf_conf_profile_t *p, const tf_tool_t *t);
/* Is t listed to r (tools/list, find_tools): callable, and admin tools
 * (spec `admin: true`) only for administrators. A non-admin calling one
 * gets the tool's own clear refusal, not "unknown tool". */
int tf_toolprof_visible(tf_req_t *r, const tf_conf_profile_t *p, const tf_tool_t *t);

#endif
