/*
 * Validator unit test: the functions generated from
 * tests/unit/fixture/schemas/everything.yaml.
 */
#include <stdio.h>
#include <string.h>

#include "tf_validators.h"

static int n, failed;

static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

/* Validates JSON text; expects pass (rule NULL) or that rule at that pointer. */
static void expect(const char *json, const char *pointer, const char *rule, const char *desc)
{
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v == NULL) {
        ok(0, desc);
        return;
    }
    tf_verr_t err;
    memset(&err, 0, sizeof(err));
    int rc = tf_validate_everything(v, &err);
    int good = rule == NULL ? rc == 0 : (rc == -1 && err.rule && !strcmp(err.rule, rule) && !strcmp(err.pointer, pointer));
    if (!good)
        printf("# got rc=%d pointer=%s rule=%s message=%s\n", rc, err.pointer, err.rule ? err.rule : "-", err.message);
    ok(good, desc);
    json_decref(v);
}

int main(void)
{
    ok(tf_validators_init() == 0, "init compiles patterns and constants");
    expect("{\"name\":\"ab\"}", NULL, NULL, "minimal valid document");
    expect("[]", "", "type", "root must be an object");
    expect("{}", "/name", "required", "missing required property");
    expect("{\"name\":5}", "/name", "type", "wrong type");
    expect("{\"name\":\"a\"}", "/name", "minLength", "too short");
    expect("{\"name\":\"abcdef\"}", "/name", "maxLength", "too long");
    expect("{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", NULL, NULL, "length counts code points, not bytes (5 x e-acute)");
    expect("{\"name\":\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"}", "/name", "maxLength",
           "6 emoji are 6 characters");
    expect("{\"name\":\"ab\",\"kind\":\"plum\"}", "/kind", "enum", "enum");
    expect("{\"name\":\"ab\",\"count\":0}", "/count", "minimum", "minimum");
    expect("{\"name\":\"ab\",\"count\":11}", "/count", "maximum", "maximum");
    expect("{\"name\":\"ab\",\"count\":2.5}", "/count", "type", "integer refuses 2.5");
    expect("{\"name\":\"ab\",\"count\":3.0}", NULL, NULL, "integer accepts 3.0");
    expect("{\"name\":\"ab\",\"ratio\":1.5}", "/ratio", "maximum", "number maximum");
    expect("{\"name\":\"ab\",\"ratio\":1}", NULL, NULL, "number accepts an integer");
    expect("{\"name\":\"ab\",\"flag\":\"yes\"}", "/flag", "type", "boolean");
    expect("{\"name\":\"ab\",\"code\":\"ABC-12\"}", NULL, NULL, "pattern matches");
    expect("{\"name\":\"ab\",\"code\":\"abc-12\"}", "/code", "pattern", "pattern refuses");
    expect("{\"name\":\"ab\",\"code\":\"ABC-1\\u0000x\"}", "/code", "pattern", "embedded NUL never matches a pattern");
    expect("{\"name\":\"ab\",\"tags\":[]}", "/tags", "minItems", "minItems");
    expect("{\"name\":\"ab\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", "/tags", "maxItems", "maxItems");
    expect("{\"name\":\"ab\",\"tags\":[\"a\",\"toolong\"]}", "/tags/1", "maxLength", "items: pointer names the index");
    expect("{\"name\":\"ab\",\"messages\":[{\"role\":\"user\"},{\"role\":\"user\"},{\"role\":\"bot\"}]}", "/messages/2/role", "enum",
           "nested pointer /messages/2/role");
    expect("{\"name\":\"ab\",\"messages\":[{\"content\":\"x\"}]}", "/messages/0/role", "required", "nested required");
    expect("{\"name\":\"ab\",\"messages\":[{\"role\":\"user\",\"x\":1}]}", "/messages/0/x", "additionalProperties",
           "nested unknown property");
    expect("{\"name\":\"ab\",\"evil/key~\":1}", "/evil~1key~0", "additionalProperties", "pointer escapes / and ~");
    expect("{\"name\":\"ab\",\"a/b~c\":1}", "/a~1b~0c", "type", "escaped pointer for a declared property");
    expect("{\"name\":\"ab\",\"extra\":{\"anything\":[1]}}", NULL, NULL, "an empty schema accepts anything");

    json_t *v = json_loads("{\"name\":\"ab\"}", 0, NULL);
    tf_verr_t err;
    ok(tf_validate_everything(v, &err) == 0 && json_is_string(json_object_get(v, "kind")) &&
           !strcmp(json_string_value(json_object_get(v, "kind")), "apple"),
       "default applied for an absent property");
    json_decref(v);
    return failed != 0;
}
