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

gboolean
sm_bridge_json_precheck (const char *text,
                         gsize len,
                         gboolean *out_overflow,
                         gboolean *out_id_overflow,
                         GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  gsize string_start = 0;
  gboolean key_is_id = FALSE;   /* the last string at depth 1 was "id" */
  gboolean value_is_id = FALSE; /* the next value at depth 1 is the id's */

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

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            {
              in_string = FALSE;
              key_is_id = depth == 1 && i - string_start == 3
                          && memcmp (text + string_start, "\"id", 3) == 0;
            }
          continue;
        }
      if (c == ':' && depth == 1)
        {
          value_is_id = key_is_id;
          continue;
        }
      if (!g_ascii_isspace (c) && c != '-' && !g_ascii_isdigit (c))
        value_is_id = FALSE;
      if (c == '"')
        {
          in_string = TRUE;
          string_start = i;
        }
      else if (c == '[' || c == '{')
        {
          if (++depth > SM_BRIDGE_JSON_MAX_DEPTH)
            {
              g_propagate_error (error,
                                 sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_JSON,
                                                      "the message nests deeper than %d levels",
                                                      SM_BRIDGE_JSON_MAX_DEPTH));
              return FALSE;
            }
        }
      else if (c == ']' || c == '}')
        {
          if (depth > 0)
            depth--;
        }
      else if (c == '-' || g_ascii_isdigit (c))
        {
          gsize end = i + 1;

          while (end < len && (g_ascii_isdigit (text[end]) || strchr (".eE+-", text[end]) != NULL))
            end++;
          if (!check_integer_literal (text + i, end - i))
            {
              *out_overflow = TRUE;
              if (value_is_id && depth == 1)
                *out_id_overflow = TRUE;
            }
          value_is_id = FALSE;
          i = end - 1;
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

JsonNode *
sm_bridge_variant_to_json (GVariant *value)
{
  JsonNode *node = json_node_alloc ();

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return json_node_init_boolean (node, g_variant_get_boolean (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTE))
    return json_node_init_int (node, g_variant_get_byte (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT16))
    return json_node_init_int (node, g_variant_get_int16 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT16))
    return json_node_init_int (node, g_variant_get_uint16 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return json_node_init_int (node, g_variant_get_int32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return json_node_init_int (node, g_variant_get_uint32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return json_node_init_int (node, g_variant_get_int64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_HANDLE))
    return json_node_init_int (node, g_variant_get_handle (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    {
      guint64 u = g_variant_get_uint64 (value);

      if (u <= G_MAXINT64)
        return json_node_init_int (node, (gint64) u);
      return json_node_init_double (node, (double) u);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return json_node_init_double (node, g_variant_get_double (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_SIGNATURE))
    return json_node_init_string (node, g_variant_get_string (value, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);

      json_node_free (node);
      return sm_bridge_variant_to_json (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE))
    {
      g_autoptr (GVariant) inner = g_variant_get_maybe (value);

      if (inner == NULL)
        return json_node_init_null (node);
      json_node_free (node);
      return sm_bridge_variant_to_json (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE ("a{s*}"))
      || g_variant_is_of_type (value, G_VARIANT_TYPE ("a{o*}")))
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
      return json_node_init_object (node, object);
    }
  /* Arrays, tuples and other dictionaries: an array of the children. */
  {
    g_autoptr (JsonArray) array = json_array_new ();
    gsize n = g_variant_n_children (value);

    for (gsize i = 0; i < n; i++)
      {
        g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

        json_array_add_element (array, sm_bridge_variant_to_json (child));
      }
    return json_node_init_array (node, array);
  }
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
