/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "sm-bridge-json.h"

#include <string.h>

GError *
sm_bridge_error_new (const char *name, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  return g_dbus_error_new_for_dbus_error (name, message);
}

static gboolean
check_integer_literal (const char *start, gsize len)
{
  g_autofree char *token = g_strndup (start, len);

  if (strpbrk (token, ".eE") != NULL)
    return TRUE; /* a fraction or exponent: a double, checked where used */
  return g_ascii_string_to_signed (token, 10, G_MININT64, G_MAXINT64, NULL, NULL);
}

/* Where the scan of a message's text stands. */
typedef struct
{
  guint depth;
  gboolean in_string;
  gsize string_start;
  gboolean key_is_id;   /* the last string at depth 1 was "id" */
  gboolean value_is_id; /* the next value at depth 1 is the id's */
} Scan;

/* One character inside a string at @i; the index of the last one taken. */
static gsize
scan_string (Scan *scan, const char *text, gsize i)
{
  if (text[i] == '\\')
    return i + 1;
  if (text[i] == '"')
    {
      scan->in_string = FALSE;
      scan->key_is_id = scan->depth == 1 && i - scan->string_start == 3
                        && memcmp (text + scan->string_start, "\"id", 3) == 0;
    }
  return i;
}

/* A number literal starting at @i; the index of its last character. */
static gsize
scan_number (Scan *scan,
             const char *text,
             gsize len,
             gsize i,
             gboolean *out_overflow,
             gboolean *out_id_overflow)
{
  gsize end = i + 1;

  while (end < len && (g_ascii_isdigit (text[end]) || strchr (".eE+-", text[end]) != NULL))
    end++;
  if (!check_integer_literal (text + i, end - i))
    {
      *out_overflow = TRUE;
      if (scan->value_is_id && scan->depth == 1)
        *out_id_overflow = TRUE;
    }
  scan->value_is_id = FALSE;
  return end - 1;
}

gboolean
sm_bridge_json_precheck (const char *text,
                         gsize len,
                         gboolean *out_overflow,
                         gboolean *out_id_overflow,
                         GError **error)
{
  Scan scan = { 0 };

  *out_overflow = FALSE;
  *out_id_overflow = FALSE;
  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_JSON,
                                                     "the message is not valid UTF-8"));
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (scan.in_string)
        i = scan_string (&scan, text, i);
      else if (c == ':' && scan.depth == 1)
        scan.value_is_id = scan.key_is_id;
      else
        {
          if (!g_ascii_isspace (c) && c != '-' && !g_ascii_isdigit (c))
            scan.value_is_id = FALSE;
          if (c == '"')
            {
              scan.in_string = TRUE;
              scan.string_start = i;
            }
          else if ((c == '[' || c == '{') && ++scan.depth > SM_BRIDGE_JSON_MAX_DEPTH)
            {
              g_propagate_error (error,
                                 sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_JSON,
                                                      "the message nests deeper than %d levels",
                                                      SM_BRIDGE_JSON_MAX_DEPTH));
              return FALSE;
            }
          else if ((c == ']' || c == '}') && scan.depth > 0)
            scan.depth--;
          else if (c == '-' || g_ascii_isdigit (c))
            i = scan_number (&scan, text, len, i, out_overflow, out_id_overflow);
        }
    }
  return TRUE;
}

static JsonNode *
get_member (JsonObject *object, const char *field)
{
  JsonNode *node = json_object_get_member (object, field);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

static gboolean
missing (const char *field, gboolean required, GError **error)
{
  if (!required)
    return TRUE;
  g_propagate_error (
      error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS, "payload.%s is missing", field));
  return FALSE;
}

gboolean
sm_bridge_json_get_string (JsonObject *object,
                           const char *field,
                           gboolean required,
                           const char **out,
                           GError **error)
{
  JsonNode *node = get_member (object, field);

  *out = NULL;
  if (node == NULL)
    return missing (field, required, error);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                                     "payload.%s must be a string", field));
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

gboolean
sm_bridge_json_get_node (JsonObject *object,
                         const char *field,
                         JsonNodeType type,
                         const char *type_name,
                         JsonNode **out,
                         GError **error)
{
  *out = get_member (object, field);
  if (*out == NULL || json_node_get_node_type (*out) == type)
    return TRUE;
  *out = NULL;
  g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                                 "payload.%s must be %s", field, type_name));
  return FALSE;
}

gboolean
sm_bridge_json_get_int64 (JsonObject *object,
                          const char *field,
                          gboolean required,
                          gboolean *out_present,
                          gint64 *out,
                          GError **error)
{
  JsonNode *node = get_member (object, field);

  *out = 0;
  if (out_present != NULL)
    *out_present = FALSE;
  if (node == NULL)
    return missing (field, required, error);
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    {
      g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                                     "payload.%s must be an integer, not %g", field,
                                                     json_node_get_double (node)));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_propagate_error (error,
                         sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                              "payload.%s must be an integer number", field));
      return FALSE;
    }
  *out = json_node_get_int (node);
  if (out_present != NULL)
    *out_present = TRUE;
  return TRUE;
}

GVariant *
sm_bridge_json_to_variant (JsonNode *node, GError **error)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                                     "payload.metadata holds a null in an array; "
                                                     "D-Bus has no null"));
      return NULL;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING:
          return g_variant_new_string (json_node_get_string (node));
        case G_TYPE_INT64:
          return g_variant_new_int64 (json_node_get_int (node));
        case G_TYPE_BOOLEAN:
          return g_variant_new_boolean (json_node_get_boolean (node));
        default:
          return g_variant_new_double (json_node_get_double (node));
        }
    case JSON_NODE_ARRAY:
      {
        g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("av"));
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            GVariant *child = sm_bridge_json_to_variant (json_array_get_element (array, i), error);

            if (child == NULL)
              return NULL;
            g_variant_builder_add (&builder, "v", child);
          }
        return g_variant_builder_end (&builder);
      }
    case JSON_NODE_OBJECT:
    default:
      {
        g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          {
            GVariant *child;

            if (JSON_NODE_HOLDS_NULL (member))
              continue;
            child = sm_bridge_json_to_variant (member, error);
            if (child == NULL)
              return NULL;
            g_variant_builder_add (&builder, "{sv}", name, child);
          }
        return g_variant_builder_end (&builder);
      }
    }
}

/* A basic value as JSON; NULL for a container. */
static JsonNode *
basic_to_json (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return json_node_init_boolean (json_node_alloc (), g_variant_get_boolean (value));
    case G_VARIANT_CLASS_BYTE:
      return json_node_init_int (json_node_alloc (), g_variant_get_byte (value));
    case G_VARIANT_CLASS_INT16:
      return json_node_init_int (json_node_alloc (), g_variant_get_int16 (value));
    case G_VARIANT_CLASS_UINT16:
      return json_node_init_int (json_node_alloc (), g_variant_get_uint16 (value));
    case G_VARIANT_CLASS_INT32:
      return json_node_init_int (json_node_alloc (), g_variant_get_int32 (value));
    case G_VARIANT_CLASS_UINT32:
      return json_node_init_int (json_node_alloc (), g_variant_get_uint32 (value));
    case G_VARIANT_CLASS_INT64:
      return json_node_init_int (json_node_alloc (), g_variant_get_int64 (value));
    case G_VARIANT_CLASS_HANDLE:
      return json_node_init_int (json_node_alloc (), g_variant_get_handle (value));
    case G_VARIANT_CLASS_UINT64:
      if (g_variant_get_uint64 (value) <= G_MAXINT64)
        return json_node_init_int (json_node_alloc (), (gint64) g_variant_get_uint64 (value));
      return json_node_init_double (json_node_alloc (), (double) g_variant_get_uint64 (value));
    case G_VARIANT_CLASS_DOUBLE:
      return json_node_init_double (json_node_alloc (), g_variant_get_double (value));
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      return json_node_init_string (json_node_alloc (), g_variant_get_string (value, NULL));
    case G_VARIANT_CLASS_VARIANT:
    case G_VARIANT_CLASS_MAYBE:
    case G_VARIANT_CLASS_ARRAY:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      return NULL;
    }
}

/* A dictionary keyed by strings (or object paths) as an object. */
static JsonNode *
dict_to_json (GVariant *value)
{
  g_autoptr (JsonObject) object = json_object_new ();
  gsize n = g_variant_n_children (value);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (value, i);
      g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
      g_autoptr (GVariant) item = g_variant_get_child_value (entry, 1);

      json_object_set_member (object, g_variant_get_string (key, NULL),
                              sm_bridge_variant_to_json (item));
    }
  return json_node_init_object (json_node_alloc (), object);
}

/* An array of @to_json of each child of @value. */
static JsonNode *
map_children (GVariant *value, JsonNode *(*to_json) (GVariant *child))
{
  g_autoptr (JsonArray) array = json_array_new ();
  gsize n = g_variant_n_children (value);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      json_array_add_element (array, to_json (child));
    }
  return json_node_init_array (json_node_alloc (), array);
}

JsonNode *
sm_bridge_variant_to_json (GVariant *value)
{
  JsonNode *node = basic_to_json (value);

  if (node != NULL)
    return node;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);

      return sm_bridge_variant_to_json (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE))
    {
      g_autoptr (GVariant) inner = g_variant_get_maybe (value);

      if (inner == NULL)
        return json_node_init_null (json_node_alloc ());
      return sm_bridge_variant_to_json (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE ("a{s*}"))
      || g_variant_is_of_type (value, G_VARIANT_TYPE ("a{o*}")))
    return dict_to_json (value);
  /* Arrays, tuples and other dictionaries: an array of the children. */
  return map_children (value, sm_bridge_variant_to_json);
}

char *
sm_bridge_camel_case (const char *key)
{
  GString *out = g_string_sized_new (strlen (key));
  gboolean upper = FALSE;

  for (const char *p = key; *p != '\0'; p++)
    {
      if (*p == '-')
        {
          upper = TRUE;
          continue;
        }
      g_string_append_c (out, upper ? g_ascii_toupper (*p) : *p);
      upper = FALSE;
    }
  return g_string_free (out, FALSE);
}

JsonNode *
sm_bridge_entry_to_json (GVariant *dict)
{
  g_autoptr (JsonObject) object = json_object_new ();
  GVariantIter iter;
  const char *key;
  GVariant *item;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &item))
    {
      g_autofree char *name = sm_bridge_camel_case (key);

      json_object_set_member (object, name, sm_bridge_variant_to_json (item));
      g_variant_unref (item);
    }
  return json_node_init_object (json_node_alloc (), object);
}

JsonNode *
sm_bridge_entries_to_json (GVariant *entries)
{
  return map_children (entries, sm_bridge_entry_to_json);
}
