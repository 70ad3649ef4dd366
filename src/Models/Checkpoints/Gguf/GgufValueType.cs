namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>GGUF metadata value types, numbered as in the GGUF specification.</summary>
internal enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// The one mapping between GGUF value types and the CLR types that carry them in
/// <see cref="GgufFile.Metadata"/> and <see cref="GgufWriter"/>: each GGUF type has exactly one CLR type,
/// so a value read back has the type it was written with.
/// </summary>
internal static class GgufValueTypes
{
    // Arrays of arrays are read recursively; a hostile file could otherwise nest deep enough to
    // overflow the stack, which no catch survives.
    internal const int MaxArrayNesting = 8;

    static readonly Dictionary<GgufValueType, Type> ClrTypes = new()
    {
        [GgufValueType.UInt8] = typeof(byte), [GgufValueType.Int8] = typeof(sbyte),
        [GgufValueType.UInt16] = typeof(ushort), [GgufValueType.Int16] = typeof(short),
        [GgufValueType.UInt32] = typeof(uint), [GgufValueType.Int32] = typeof(int),
        [GgufValueType.Float32] = typeof(float), [GgufValueType.Bool] = typeof(bool),
        [GgufValueType.String] = typeof(string), [GgufValueType.UInt64] = typeof(ulong),
        [GgufValueType.Int64] = typeof(long), [GgufValueType.Float64] = typeof(double),
    };

    static readonly Dictionary<Type, GgufValueType> ByClr = ClrTypes.ToDictionary(p => p.Value, p => p.Key);

    /// <summary>Bytes of one fixed-size value, or 0 for strings and arrays.</summary>
    internal static int FixedSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    // Checked by element type, since array covariance makes a string[] an object[] too.
    internal static bool IsArrayOfArrays(Array items) => items.GetType().GetElementType() == typeof(object);

    /// <summary>The GGUF type of a scalar CLR type; arrays are <see cref="GgufValueType.Array"/>.</summary>
    internal static bool TryFromClr(Type clr, out GgufValueType type)
    {
        if (clr.IsArray)
        {
            type = GgufValueType.Array;
            return true;
        }
        return ByClr.TryGetValue(clr, out type);
    }
}
