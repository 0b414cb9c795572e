/*
 * Validator unit test: the functions generated from
 * tests/unit/codegen/router_spec/schemas/everything.yaml.
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

/*
 * Validates JSON text. rule NULL: must pass. Otherwise must fail with that
 * rule at that pointer and, when message is not NULL, that message.
 */
static void expect_msg(const char *json, const char *pointer, const char *rule, const char *message, const char *desc)
{
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v == NULL) {
        printf("# bad test JSON: %s\n", je.text);
        ok(0, desc);
        return;
    }
    tf_verr_t err;
    memset(&err, 0, sizeof(err));
    int rc = tf_validate_everything(v, &err);
    int good = rule == NULL ? rc == 0
                            : (rc == -1 && err.rule && !strcmp(err.rule, rule) && !strcmp(err.pointer, pointer) &&
                               (message == NULL || !strcmp(err.message, message)));
    if (!good)
        printf("# got rc=%d pointer=%s rule=%s message=%s\n", rc, err.pointer, err.rule ? err.rule : "-", err.message);
    ok(good, desc);
    json_decref(v);
}

static void expect(const char *json, const char *pointer, const char *rule, const char *desc)
{
    expect_msg(json, pointer, rule, NULL, desc);
}

static const char *str_at(json_t *v, const char *key)
{
    return json_string_value(json_object_get(v, key));
}

int main(void)
{
    ok(tf_validators_init() == 0, "init compiles patterns and constants");
    ok(tf_validators_init() == 0, "init twice is harmless");

    /* Types and required. */
    expect("{\"name\":\"ab\"}", NULL, NULL, "minimal valid document");
    expect_msg("[]", "", "type", "must be an object", "root must be an object (pointer \"\")");
    expect("null", "", "type", "root null");
    expect_msg("{}", "/name", "required", "is required", "missing required property: pointer names it");
    expect_msg("{\"name\":5}", "/name", "type", "must be a string", "wrong type");
    expect("{\"name\":null}", "/name", "type", "null is not a string");
    expect("{\"name\":\"ab\",\"flag\":\"yes\"}", "/flag", "type", "boolean refuses a string");
    expect("{\"name\":\"ab\",\"flag\":0}", "/flag", "type", "boolean refuses 0");
    expect("{\"name\":\"ab\",\"flag\":false}", NULL, NULL, "boolean false");

    /* Strings: lengths in code points. */
    expect_msg("{\"name\":\"a\"}", "/name", "minLength", "must be at least 2 characters", "too short");
    expect_msg("{\"name\":\"abcdef\"}", "/name", "maxLength", "must be at most 5 characters", "too long");
    expect("{\"name\":\"abcde\"}", NULL, NULL, "exactly maxLength");
    expect("{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", NULL, NULL, "5 x e-acute (10 bytes) are 5 characters");
    expect("{\"name\":\"\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\"}", NULL, NULL, "5 x euro sign (15 bytes) are 5 characters");
    expect("{\"name\":\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"}", "/name", "maxLength",
           "6 emoji (24 bytes) are 6 characters");
    expect("{\"name\":\"\\ud83d\\ude00\"}", "/name", "minLength", "1 emoji (4 bytes) is 1 character");
    expect("{\"name\":\"a\\u0000b\"}", NULL, NULL, "a NUL is a character");

    /* enum. */
    expect_msg("{\"name\":\"ab\",\"kind\":\"plum\"}", "/kind", "enum", "must be one of: apple, pear", "enum of strings");
    expect("{\"name\":\"ab\",\"kind\":\"pear\"}", NULL, NULL, "enum member");
    expect("{\"name\":\"ab\",\"kind\":\"pea\"}", "/kind", "enum", "enum: a prefix is not a member");
    expect("{\"name\":\"ab\",\"kind\":\"pear\\u0000\"}", "/kind", "enum", "enum: a NUL-extended member is not a member");
    expect_msg("{\"name\":\"ab\",\"level\":\"1\"}", "/level", "enum", "must be one of: 1, two, null", "mixed enum: \"1\" is not 1");
    expect("{\"name\":\"ab\",\"level\":1}", NULL, NULL, "mixed enum: 1");
    expect("{\"name\":\"ab\",\"level\":null}", NULL, NULL, "mixed enum: null");
    expect("{\"name\":\"ab\",\"level\":\"two\"}", NULL, NULL, "mixed enum: string");

    /* Numbers. */
    expect_msg("{\"name\":\"ab\",\"count\":0}", "/count", "minimum", "must be at least 1", "minimum");
    expect_msg("{\"name\":\"ab\",\"count\":11}", "/count", "maximum", "must be at most 10", "maximum");
    expect("{\"name\":\"ab\",\"count\":10}", NULL, NULL, "maximum is inclusive");
    expect_msg("{\"name\":\"ab\",\"count\":2.5}", "/count", "type", "must be an integer", "integer refuses 2.5");
    expect("{\"name\":\"ab\",\"count\":3.0}", NULL, NULL, "integer accepts 3.0");
    expect("{\"name\":\"ab\",\"count\":10.5}", "/count", "type", "type is checked before maximum");
    expect("{\"name\":\"ab\",\"count\":\"3\"}", "/count", "type", "integer refuses a string");
    expect("{\"name\":\"ab\",\"big\":9007199254740993}", NULL, NULL, "integer bound 2^53+1 is exact (at the bound)");
    expect("{\"name\":\"ab\",\"big\":9007199254740994}", "/big", "maximum", "integer bound 2^53+1 is exact (one above)");
    expect("{\"name\":\"ab\",\"big\":-9007199254740994}", "/big", "minimum", "negative integer bound is exact");
    expect("{\"name\":\"ab\",\"ratio\":1.5}", "/ratio", "maximum", "number maximum");
    expect("{\"name\":\"ab\",\"ratio\":1}", NULL, NULL, "number accepts an integer");
    expect("{\"name\":\"ab\",\"ratio\":-0.0}", NULL, NULL, "number: -0.0 is not below 0");
    expect("{\"name\":\"ab\",\"score\":0.25}", "/score", "minimum", "real bound");
    expect("{\"name\":\"ab\",\"score\":1}", NULL, NULL, "real bound, integer value");
    expect("{\"name\":\"ab\",\"ratio\":true}", "/ratio", "type", "number refuses a boolean");

    /* pattern (POSIX ERE, searching unless anchored). */
    expect("{\"name\":\"ab\",\"code\":\"ABC-12\"}", NULL, NULL, "pattern matches");
    expect_msg("{\"name\":\"ab\",\"code\":\"abc-12\"}", "/code", "pattern", "must match the pattern ^[A-Z]{3}-[0-9]+$",
               "pattern refuses");
    expect("{\"name\":\"ab\",\"code\":\"ABC-12 \"}", "/code", "pattern", "anchored pattern refuses a trailing space");
    expect("{\"name\":\"ab\",\"code\":\"ABC-1\\u0000x\"}", "/code", "pattern", "embedded NUL never matches a pattern");
    expect("{\"name\":\"ab\",\"word\":\"12a34\"}", NULL, NULL, "unanchored pattern searches");
    expect("{\"name\":\"ab\",\"word\":\"1234\"}", "/word", "pattern", "unanchored pattern still needs a match");

    /* Arrays. */
    expect_msg("{\"name\":\"ab\",\"tags\":[]}", "/tags", "minItems", "must have at least 1 items", "minItems");
    expect("{\"name\":\"ab\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", "/tags", "maxItems", "maxItems");
    expect("{\"name\":\"ab\",\"tags\":[\"a\",\"toolong\"]}", "/tags/1", "maxLength", "items: pointer names the index");
    expect("{\"name\":\"ab\",\"tags\":[\"a\",3]}", "/tags/1", "type", "items: type");
    expect("{\"name\":\"ab\",\"tags\":{}}", "/tags", "type", "array refuses an object");
    expect("{\"name\":\"ab\",\"messages\":[{\"role\":\"user\"},{\"role\":\"user\"},{\"role\":\"bot\"}]}", "/messages/2/role", "enum",
           "nested pointer /messages/2/role");
    expect("{\"name\":\"ab\",\"messages\":[{\"content\":\"x\"}]}", "/messages/0/role", "required", "nested required");

    /* Objects: unknown properties, pointer escaping. */
    expect_msg("{\"name\":\"ab\",\"messages\":[{\"role\":\"user\",\"x\":1}]}", "/messages/0/x", "additionalProperties",
               "is an unknown property (additionalProperties is false)", "nested unknown property");
    expect("{\"name\":\"ab\",\"evil/key~\":1}", "/evil~1key~0", "additionalProperties", "pointer escapes / as ~1 and ~ as ~0");
    expect("{\"name\":\"ab\",\"~01\":1}", "/~001", "additionalProperties", "~ is escaped before it could be read as ~0/~1");
    expect("{\"name\":\"ab\",\"a/b~c\":1}", "/a~1b~0c", "type", "escaped pointer for a declared property");
    expect("{\"name\":\"ab\",\"a/b~c\":null}", NULL, NULL, "type null");
    expect("{\"name\":\"ab\",\"extra\":{\"anything\":[1]}}", NULL, NULL, "an empty schema accepts anything");
    expect("{\"name\":\"ab\",\"extra\":null}", NULL, NULL, "... even null");

    /* Defaults. */
    json_t *v = json_loads("{\"name\":\"ab\",\"messages\":[{\"role\":\"user\"},{\"role\":\"assistant\",\"content\":\"hi\"}]}", 0, NULL);
    tf_verr_t err;
    ok(tf_validate_everything(v, &err) == 0 && str_at(v, "kind") && !strcmp(str_at(v, "kind"), "apple"),
       "default applied for an absent property");
    json_t *msgs = json_object_get(v, "messages");
    ok(str_at(json_array_get(msgs, 0), "content") && !strcmp(str_at(json_array_get(msgs, 0), "content"), "") &&
           !strcmp(str_at(json_array_get(msgs, 1), "content"), "hi"),
       "defaults inside array items; present values kept");
    ok(json_object_get(v, "count") == NULL, "no default, no property");
    ok(err.defaults == 2, "the validator counts the defaults it added, nested ones too (the body is no longer its text)");
    json_decref(v);
    v = json_loads("{\"name\":\"ab\",\"kind\":\"pear\"}", 0, NULL);
    ok(tf_validate_everything(v, &err) == 0 && !strcmp(str_at(v, "kind"), "pear"), "a present value is not replaced by the default");
    ok(err.defaults == 0, "  ... and none added, none counted");
    json_decref(v);
    v = json_loads("{\"name\":\"ab\"}", 0, NULL);
    json_t *w = json_loads("{\"name\":\"cd\"}", 0, NULL);
    tf_validate_everything(v, &err);
    tf_validate_everything(w, &err);
    json_string_set(json_object_get(v, "kind"), "changed");
    ok(!strcmp(str_at(w, "kind"), "apple"), "each document gets its own copy of a default");
    json_decref(v);
    json_decref(w);

    printf("1..%d\n", n);
    return failed != 0;
}
