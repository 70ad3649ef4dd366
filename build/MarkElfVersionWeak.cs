// MSBuild inline task (RoslynCodeTaskFactory). TorchSharp's native glue, libLibTorchSharp.so, is built
// with GCC 13 and so requires the symbol version GLIBCXX_3.4.32 for one symbol that nothing calls
// (_ZSt21ios_base_library_initv). Debian 12's libstdc++ stops at 3.4.30, so the loader refuses the
// library. Marking that one version requirement weak (VER_FLG_WEAK in its Elf64_Vernaux entry) makes
// the loader accept it; on newer systems the flag changes nothing. See docs/torchsharp-on-debian.md.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkElfVersionWeak : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string Version { get; set; } = "";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                int patched = Patch(path, Version);
                if (patched > 0)
                    Log.LogMessage(MessageImportance.High, $"Marked {Version} weak in {path}");
            }
            catch (Exception e)
            {
                Log.LogError($"Could not patch {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static int Patch(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int patched = 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int strtab = checked((int)BitConverter.ToUInt64(elf, checked((int)shoff + link * shentsize) + 0x18));
            int verneedCount = (int)BitConverter.ToUInt32(elf, sh + 0x2C);
            int vn = offset;
            for (int n = 0; n < verneedCount; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int name = strtab + (int)BitConverter.ToUInt32(elf, aux + 8);
                    int end = Array.IndexOf(elf, (byte)0, name);
                    if (Encoding.ASCII.GetString(elf, name, end - name) == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            stream.Position = aux + 4;
                            byte[] weak = BitConverter.GetBytes((ushort)(flags | VerFlgWeak));
                            stream.Write(weak, 0, weak.Length);
                            patched++;
                        }
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                vn += (int)BitConverter.ToUInt32(elf, vn + 12);
            }
        }
        return patched;
    }
}
