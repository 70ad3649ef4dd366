using System.Buffers.Binary;
using System.Text;

namespace Rollout.Models.Tests.Safetensors;

/// <summary>A folder under the system temp path, removed with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rollout-safetensors-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Builds safetensors files byte by byte, so tests can write what no honest writer would.</summary>
internal static class RawSafetensors
{
    /// <summary>8-byte length, <paramref name="header"/> verbatim, then <paramref name="dataLength"/> patterned bytes.</summary>
    public static byte[] Build(string header, long dataLength) => Build(Encoding.UTF8.GetBytes(header), dataLength);

    public static byte[] Build(byte[] header, long dataLength)
    {
        var bytes = new byte[8 + header.Length + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (long i = 0; i < dataLength; i++)
            bytes[8 + header.Length + i] = (byte)(i * 31 + 7);
        return bytes;
    }

    public static string Write(TempDirectory directory, byte[] bytes, string name = "model.safetensors")
    {
        string path = directory.File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }
}
