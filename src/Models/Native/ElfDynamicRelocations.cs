using System.Buffers.Binary;
using System.Text;

namespace Rollout.Models.Native;

/// <summary>
/// Reads from an ELF64 shared object on disk where the loader keeps the address of an imported
/// function: the offsets (relative to the load base) of every GOT slot that a <c>JUMP_SLOT</c> or
/// <c>GLOB_DAT</c> relocation binds to a named dynamic symbol. Only the section headers, the dynamic
/// symbol table and the relocation tables are read, so a multi-hundred-megabyte library costs a few
/// megabytes of reads.
/// </summary>
internal static class ElfDynamicRelocations
{
    const uint SectionRela = 4;
    const uint SectionDynsym = 11;
    const uint RelocGlobDat = 6;
    const uint RelocJumpSlot = 7;
    const uint ProgramLoad = 1;

    /// <summary>
    /// The virtual address the first loadable segment asks for (load base = mapped start of file
    /// offset 0 minus this) and the GOT slot offsets bound to <paramref name="symbol"/>, empty when
    /// the library does not import it.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a little-endian ELF64 object.</exception>
    public static (ulong FirstLoadAddress, IReadOnlyList<ulong> SlotOffsets) ImportSlots(string path, string symbol)
    {
        using var file = File.OpenRead(path);
        return (FirstLoadAddress(file, path), SlotsOf(file, symbol));
    }

    static IReadOnlyList<ulong> SlotsOf(FileStream file, string symbol)
    {
        var (sections, sectionSize, sectionCount) = HeaderTable(file, 0x28, 0x3A, 0x3C);
        if (sectionCount == 0) return [];
        Section At(int i) => Section.Parse(sections.AsSpan(i * sectionSize, sectionSize));

        for (int s = 0; s < sectionCount; s++)
        {
            var dynsym = At(s);
            if (dynsym.Type != SectionDynsym) continue;
            long index = SymbolIndex(file, dynsym, At((int)dynsym.Link), symbol);
            if (index < 0) return [];
            var slots = new List<ulong>();
            for (int r = 0; r < sectionCount; r++)
            {
                var rela = At(r);
                if (rela.Type != SectionRela || rela.Link != s) continue;
                var entries = ReadAt(file, (long)rela.Offset, checked((int)rela.Size));
                for (int e = 0; e + 24 <= entries.Length; e += 24)
                {
                    ulong info = BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(e + 8));
                    uint type = (uint)info;
                    if ((long)(info >> 32) == index && type is RelocJumpSlot or RelocGlobDat)
                        slots.Add(BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(e)));
                }
            }
            return slots;
        }
        return [];
    }

    static ulong FirstLoadAddress(FileStream file, string path)
    {
        var (table, programSize, programCount) = HeaderTable(file, 0x20, 0x36, 0x38);
        for (int p = 0; p < programCount; p++)
        {
            var entry = table.AsSpan(p * programSize, programSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(entry) == ProgramLoad)
                return BinaryPrimitives.ReadUInt64LittleEndian(entry[0x10..]) & ~0xFFFUL;
        }
        throw new InvalidDataException($"{path} has no loadable segment.");
    }

    static long SymbolIndex(FileStream file, Section dynsym, Section strings, string symbol)
    {
        var names = ReadAt(file, (long)strings.Offset, checked((int)strings.Size));
        var wanted = Encoding.ASCII.GetBytes(symbol);
        var table = ReadAt(file, (long)dynsym.Offset, checked((int)dynsym.Size));
        for (int i = 0; i * 24 + 24 <= table.Length; i++)
        {
            int name = (int)BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(i * 24));
            if (name + wanted.Length >= names.Length) continue;
            if (names.AsSpan(name, wanted.Length).SequenceEqual(wanted) && names[name + wanted.Length] == 0) return i;
        }
        return -1;
    }

    // The section or program header table whose file offset, entry size and count the ELF header keeps at the given fields.
    static (byte[] Table, int EntrySize, int Count) HeaderTable(FileStream file, int offsetField, int sizeField, int countField)
    {
        var header = ReadAt(file, 0, (int)Math.Min(64, file.Length));
        CheckElf64(header);
        ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(offsetField));
        int size = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(sizeField));
        int count = offset == 0 ? 0 : BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(countField));
        return (ReadAt(file, (long)offset, size * count), size, count);
    }

    static void CheckElf64(byte[] header)
    {
        if (header.Length < 64 || header[0] != 0x7F || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F'
            || header[4] != 2 || header[5] != 1)
            throw new InvalidDataException("Not a little-endian ELF64 object.");
    }

    static byte[] ReadAt(FileStream file, long offset, int count)
    {
        var buffer = new byte[count];
        file.Position = offset;
        file.ReadExactly(buffer);
        return buffer;
    }

    readonly record struct Section(uint Type, ulong Offset, ulong Size, uint Link)
    {
        public static Section Parse(ReadOnlySpan<byte> header) => new(
            BinaryPrimitives.ReadUInt32LittleEndian(header[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]),
            BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]));
    }
}
