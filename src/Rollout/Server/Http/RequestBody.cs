using System.Text.Json;
using MessagePack;

namespace Rollout.Server.Http;

/// <summary>
/// A request's JSON object, read with typed getters that refuse, with a 400 naming the field, every
/// wrong type, out-of-range value and unknown shape. MessagePack bodies are read through the same
/// getters (converted to JSON first), so both encodings accept and refuse exactly the same requests.
/// </summary>
internal sealed class RequestBody
{
    // Untrusted input: the converter recurses once per nesting level, so without a depth limit a deep enough body overflows the stack and ends the process.
    static readonly MessagePackSerializerOptions MessagePackLimits =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(ServerJson.MaxDepth));

    readonly JsonElement _root;
    readonly string _prefix;

    RequestBody(JsonElement root, string prefix)
    {
        _root = root;
        _prefix = prefix;
    }

    /// <summary>Whether the body came as MessagePack (and so the answer goes back as MessagePack).</summary>
    public bool IsMessagePack { get; private init; }

    /// <summary>Reads the whole body of <paramref name="request"/>: a JSON object, or a MessagePack map when the content type says so.</summary>
    public static async Task<RequestBody> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        bool msgpack = IsMessagePackType(request.ContentType);
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length == 0) throw ApiException.BadRequest("the request body is empty: send a JSON object");
        string json;
        if (msgpack)
        {
            try
            {
                json = MessagePackSerializer.ConvertToJson(buffer.ToArray(), MessagePackLimits, cancellationToken);
            }
            catch (MessagePackSerializationException e)
            {
                throw ApiException.BadRequest($"the body is not valid MessagePack: {e.Message}");
            }
        }
        else
        {
            json = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = ServerJson.MaxDepth });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"the body must be a JSON object, not {Describe(document.RootElement)}");
            return new RequestBody(document.RootElement.Clone(), "") { IsMessagePack = msgpack };
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Whether a content type names MessagePack.</summary>
    public static bool IsMessagePackType(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/x-msgpack", StringComparison.OrdinalIgnoreCase)
                                    || contentType.StartsWith("application/msgpack", StringComparison.OrdinalIgnoreCase)
                                    || contentType.StartsWith("application/vnd.msgpack", StringComparison.OrdinalIgnoreCase));

    /// <summary>The names and values of this object's members.</summary>
    public IEnumerable<(string Name, JsonElement Value)> Properties() => _root.EnumerateObject().Select(p => (p.Name, p.Value));

    public bool Has(string name) => _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Raw(string name) => _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string Path(string name) => _prefix + name;

    /// <summary>A nested object, read with the same rules; null when absent.</summary>
    public RequestBody? Object(string name)
    {
        if (Raw(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Wrong(name, "an object", v);
        return new RequestBody(v, Path(name) + ".") { IsMessagePack = IsMessagePack };
    }

    public string? String(string name)
    {
        if (Raw(name) is not { } v) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(name, "a string", v);
    }

    public bool? Bool(string name)
    {
        if (Raw(name) is not { } v) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, "true or false", v),
        };
    }

    public long? Long(string name, long min = long.MinValue, long max = long.MaxValue)
    {
        if (Raw(name) is not { } v) return null;
        return ToLong(v, Path(name), min, max);
    }

    public int? Int(string name, int min = int.MinValue, int max = int.MaxValue) => (int?)Long(name, min, max);

    public float? Float(string name, float min = float.MinValue, float max = float.MaxValue)
    {
        if (Raw(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw Wrong(name, "a finite number", v);
        if (d < min || d > max) throw ApiException.BadRequest($"{Path(name)} must be in [{min}, {max}], got {v.GetRawText()}", Path(name));
        return (float)d;
    }

    /// <summary>A string or a list of strings.</summary>
    public IReadOnlyList<string>? Strings(string name, int maxCount = 64)
    {
        if (Raw(name) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.String) return [v.GetString()!];
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(name, "a string or a list of strings", v);
        if (v.GetArrayLength() > maxCount) throw ApiException.BadRequest($"{Path(name)} holds more than {maxCount} strings", Path(name));
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Wrong(name, "a list of strings", e)).ToArray();
    }

    /// <summary>A list of integers in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int[]? Ints(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        if (Raw(name) is not { } v) return null;
        return IntArray(v, Path(name), min, max);
    }

    /// <summary>The integers of <paramref name="array"/>, each in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int[] IntArray(JsonElement array, string path, int min, int max)
    {
        if (array.ValueKind != JsonValueKind.Array) throw WrongAt(path, "a list of integers", array);
        var result = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            result[i] = (int)ToLong(e, $"{path}[{i}]", min, max);
            i++;
        }
        return result;
    }

    static long ToLong(JsonElement v, string path, long min, long max)
    {
        if (v.ValueKind != JsonValueKind.Number) throw WrongAt(path, "an integer", v);
        if (!v.TryGetInt64(out long n))
        {
            // 3.0 is an integer; 3.5 and 1e30 are not.
            if (v.TryGetDouble(out double d) && Math.Floor(d) == d && Math.Abs(d) < 9e15) n = (long)d;
            else throw WrongAt(path, "an integer", v);
        }
        if (n < min || n > max)
            throw ApiException.BadRequest($"{path} must be in [{min}, {max}], got {n}", path);
        return n;
    }

    ApiException Wrong(string name, string expected, JsonElement got) => WrongAt(Path(name), expected, got);

    static ApiException WrongAt(string path, string expected, JsonElement got) =>
        ApiException.BadRequest($"{path} must be {expected}, not {Describe(got)}", path);

    static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
