// Colormaps, normalisation, masks, overlays, text, colorbars, grids, PNG and .npy output.
#include "core/image/render.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#define STBI_WRITE_NO_STDIO
#include <stb_easy_font.h>
#include <stb_image_write.h>

namespace cnnlens {

namespace {

// matplotlib's published colour data, sampled at 256 points as 0xRRGGBB: viridis and inferno
// (van der Walt, Smith and Firing; CC0), jet (matplotlib's segment data; matplotlib licence,
// BSD-style) and RdBu (ColorBrewer, Cynthia Brewer; Apache-2.0-style licence).
constexpr uint32_t kViridisTable[256] = {
    0x440154, 0x440256, 0x450457, 0x450559, 0x46075a, 0x46085c, 0x460a5d, 0x460b5e, 0x470d60,
    0x470e61, 0x471063, 0x471164, 0x471365, 0x481467, 0x481668, 0x481769, 0x48186a, 0x481a6c,
    0x481b6d, 0x481c6e, 0x481d6f, 0x481f70, 0x482071, 0x482173, 0x482374, 0x482475, 0x482576,
    0x482677, 0x482878, 0x482979, 0x472a7a, 0x472c7a, 0x472d7b, 0x472e7c, 0x472f7d, 0x46307e,
    0x46327e, 0x46337f, 0x463480, 0x453581, 0x453781, 0x453882, 0x443983, 0x443a83, 0x443b84,
    0x433d84, 0x433e85, 0x423f85, 0x424086, 0x424186, 0x414287, 0x414487, 0x404588, 0x404688,
    0x3f4788, 0x3f4889, 0x3e4989, 0x3e4a89, 0x3e4c8a, 0x3d4d8a, 0x3d4e8a, 0x3c4f8a, 0x3c508b,
    0x3b518b, 0x3b528b, 0x3a538b, 0x3a548c, 0x39558c, 0x39568c, 0x38588c, 0x38598c, 0x375a8c,
    0x375b8d, 0x365c8d, 0x365d8d, 0x355e8d, 0x355f8d, 0x34608d, 0x34618d, 0x33628d, 0x33638d,
    0x32648e, 0x32658e, 0x31668e, 0x31678e, 0x31688e, 0x30698e, 0x306a8e, 0x2f6b8e, 0x2f6c8e,
    0x2e6d8e, 0x2e6e8e, 0x2e6f8e, 0x2d708e, 0x2d718e, 0x2c718e, 0x2c728e, 0x2c738e, 0x2b748e,
    0x2b758e, 0x2a768e, 0x2a778e, 0x2a788e, 0x29798e, 0x297a8e, 0x297b8e, 0x287c8e, 0x287d8e,
    0x277e8e, 0x277f8e, 0x27808e, 0x26818e, 0x26828e, 0x26828e, 0x25838e, 0x25848e, 0x25858e,
    0x24868e, 0x24878e, 0x23888e, 0x23898e, 0x238a8d, 0x228b8d, 0x228c8d, 0x228d8d, 0x218e8d,
    0x218f8d, 0x21908d, 0x21918c, 0x20928c, 0x20928c, 0x20938c, 0x1f948c, 0x1f958b, 0x1f968b,
    0x1f978b, 0x1f988b, 0x1f998a, 0x1f9a8a, 0x1e9b8a, 0x1e9c89, 0x1e9d89, 0x1f9e89, 0x1f9f88,
    0x1fa088, 0x1fa188, 0x1fa187, 0x1fa287, 0x20a386, 0x20a486, 0x21a585, 0x21a685, 0x22a785,
    0x22a884, 0x23a983, 0x24aa83, 0x25ab82, 0x25ac82, 0x26ad81, 0x27ad81, 0x28ae80, 0x29af7f,
    0x2ab07f, 0x2cb17e, 0x2db27d, 0x2eb37c, 0x2fb47c, 0x31b57b, 0x32b67a, 0x34b679, 0x35b779,
    0x37b878, 0x38b977, 0x3aba76, 0x3bbb75, 0x3dbc74, 0x3fbc73, 0x40bd72, 0x42be71, 0x44bf70,
    0x46c06f, 0x48c16e, 0x4ac16d, 0x4cc26c, 0x4ec36b, 0x50c46a, 0x52c569, 0x54c568, 0x56c667,
    0x58c765, 0x5ac864, 0x5cc863, 0x5ec962, 0x60ca60, 0x63cb5f, 0x65cb5e, 0x67cc5c, 0x69cd5b,
    0x6ccd5a, 0x6ece58, 0x70cf57, 0x73d056, 0x75d054, 0x77d153, 0x7ad151, 0x7cd250, 0x7fd34e,
    0x81d34d, 0x84d44b, 0x86d549, 0x89d548, 0x8bd646, 0x8ed645, 0x90d743, 0x93d741, 0x95d840,
    0x98d83e, 0x9bd93c, 0x9dd93b, 0xa0da39, 0xa2da37, 0xa5db36, 0xa8db34, 0xaadc32, 0xaddc30,
    0xb0dd2f, 0xb2dd2d, 0xb5de2b, 0xb8de29, 0xbade28, 0xbddf26, 0xc0df25, 0xc2df23, 0xc5e021,
    0xc8e020, 0xcae11f, 0xcde11d, 0xd0e11c, 0xd2e21b, 0xd5e21a, 0xd8e219, 0xdae319, 0xdde318,
    0xdfe318, 0xe2e418, 0xe5e419, 0xe7e419, 0xeae51a, 0xece51b, 0xefe51c, 0xf1e51d, 0xf4e61e,
    0xf6e620, 0xf8e621, 0xfbe723, 0xfde725,
};
constexpr uint32_t kInfernoTable[256] = {
    0x000004, 0x010005, 0x010106, 0x010108, 0x02010a, 0x02020c, 0x02020e, 0x030210, 0x040312,
    0x040314, 0x050417, 0x060419, 0x07051b, 0x08051d, 0x09061f, 0x0a0722, 0x0b0724, 0x0c0826,
    0x0d0829, 0x0e092b, 0x10092d, 0x110a30, 0x120a32, 0x140b34, 0x150b37, 0x160b39, 0x180c3c,
    0x190c3e, 0x1b0c41, 0x1c0c43, 0x1e0c45, 0x1f0c48, 0x210c4a, 0x230c4c, 0x240c4f, 0x260c51,
    0x280b53, 0x290b55, 0x2b0b57, 0x2d0b59, 0x2f0a5b, 0x310a5c, 0x320a5e, 0x340a5f, 0x360961,
    0x380962, 0x390963, 0x3b0964, 0x3d0965, 0x3e0966, 0x400a67, 0x420a68, 0x440a68, 0x450a69,
    0x470b6a, 0x490b6a, 0x4a0c6b, 0x4c0c6b, 0x4d0d6c, 0x4f0d6c, 0x510e6c, 0x520e6d, 0x540f6d,
    0x550f6d, 0x57106e, 0x59106e, 0x5a116e, 0x5c126e, 0x5d126e, 0x5f136e, 0x61136e, 0x62146e,
    0x64156e, 0x65156e, 0x67166e, 0x69166e, 0x6a176e, 0x6c186e, 0x6d186e, 0x6f196e, 0x71196e,
    0x721a6e, 0x741a6e, 0x751b6e, 0x771c6d, 0x781c6d, 0x7a1d6d, 0x7c1d6d, 0x7d1e6d, 0x7f1e6c,
    0x801f6c, 0x82206c, 0x84206b, 0x85216b, 0x87216b, 0x88226a, 0x8a226a, 0x8c2369, 0x8d2369,
    0x8f2469, 0x902568, 0x922568, 0x932667, 0x952667, 0x972766, 0x982766, 0x9a2865, 0x9b2964,
    0x9d2964, 0x9f2a63, 0xa02a63, 0xa22b62, 0xa32c61, 0xa52c60, 0xa62d60, 0xa82e5f, 0xa92e5e,
    0xab2f5e, 0xad305d, 0xae305c, 0xb0315b, 0xb1325a, 0xb3325a, 0xb43359, 0xb63458, 0xb73557,
    0xb93556, 0xba3655, 0xbc3754, 0xbd3853, 0xbf3952, 0xc03a51, 0xc13a50, 0xc33b4f, 0xc43c4e,
    0xc63d4d, 0xc73e4c, 0xc83f4b, 0xca404a, 0xcb4149, 0xcc4248, 0xce4347, 0xcf4446, 0xd04545,
    0xd24644, 0xd34743, 0xd44842, 0xd54a41, 0xd74b3f, 0xd84c3e, 0xd94d3d, 0xda4e3c, 0xdb503b,
    0xdd513a, 0xde5238, 0xdf5337, 0xe05536, 0xe15635, 0xe25734, 0xe35933, 0xe45a31, 0xe55c30,
    0xe65d2f, 0xe75e2e, 0xe8602d, 0xe9612b, 0xea632a, 0xeb6429, 0xeb6628, 0xec6726, 0xed6925,
    0xee6a24, 0xef6c23, 0xef6e21, 0xf06f20, 0xf1711f, 0xf1731d, 0xf2741c, 0xf3761b, 0xf37819,
    0xf47918, 0xf57b17, 0xf57d15, 0xf67e14, 0xf68013, 0xf78212, 0xf78410, 0xf8850f, 0xf8870e,
    0xf8890c, 0xf98b0b, 0xf98c0a, 0xf98e09, 0xfa9008, 0xfa9207, 0xfa9407, 0xfb9606, 0xfb9706,
    0xfb9906, 0xfb9b06, 0xfb9d07, 0xfc9f07, 0xfca108, 0xfca309, 0xfca50a, 0xfca60c, 0xfca80d,
    0xfcaa0f, 0xfcac11, 0xfcae12, 0xfcb014, 0xfcb216, 0xfcb418, 0xfbb61a, 0xfbb81d, 0xfbba1f,
    0xfbbc21, 0xfbbe23, 0xfac026, 0xfac228, 0xfac42a, 0xfac62d, 0xf9c72f, 0xf9c932, 0xf9cb35,
    0xf8cd37, 0xf8cf3a, 0xf7d13d, 0xf7d340, 0xf6d543, 0xf6d746, 0xf5d949, 0xf5db4c, 0xf4dd4f,
    0xf4df53, 0xf4e156, 0xf3e35a, 0xf3e55d, 0xf2e661, 0xf2e865, 0xf2ea69, 0xf1ec6d, 0xf1ed71,
    0xf1ef75, 0xf1f179, 0xf2f27d, 0xf2f482, 0xf3f586, 0xf3f68a, 0xf4f88e, 0xf5f992, 0xf6fa96,
    0xf8fb9a, 0xf9fc9d, 0xfafda1, 0xfcffa4,
};
constexpr uint32_t kJetTable[256] = {
    0x000080, 0x000084, 0x000089, 0x00008d, 0x000092, 0x000096, 0x00009b, 0x00009f, 0x0000a4,
    0x0000a8, 0x0000ad, 0x0000b2, 0x0000b6, 0x0000bb, 0x0000bf, 0x0000c4, 0x0000c8, 0x0000cd,
    0x0000d1, 0x0000d6, 0x0000da, 0x0000df, 0x0000e3, 0x0000e8, 0x0000ed, 0x0000f1, 0x0000f6,
    0x0000fa, 0x0000ff, 0x0000ff, 0x0000ff, 0x0000ff, 0x0000ff, 0x0004ff, 0x0008ff, 0x000cff,
    0x0010ff, 0x0014ff, 0x0018ff, 0x001cff, 0x0020ff, 0x0024ff, 0x0028ff, 0x002cff, 0x0030ff,
    0x0034ff, 0x0038ff, 0x003cff, 0x0040ff, 0x0044ff, 0x0048ff, 0x004cff, 0x0050ff, 0x0054ff,
    0x0058ff, 0x005cff, 0x0060ff, 0x0064ff, 0x0068ff, 0x006cff, 0x0070ff, 0x0074ff, 0x0078ff,
    0x007cff, 0x0080ff, 0x0084ff, 0x0088ff, 0x008cff, 0x0090ff, 0x0094ff, 0x0098ff, 0x009cff,
    0x00a0ff, 0x00a4ff, 0x00a8ff, 0x00acff, 0x00b0ff, 0x00b4ff, 0x00b8ff, 0x00bcff, 0x00c0ff,
    0x00c4ff, 0x00c8ff, 0x00ccff, 0x00d0ff, 0x00d4ff, 0x00d8ff, 0x00dcfe, 0x00e0fb, 0x00e4f8,
    0x02e8f4, 0x06ecf1, 0x09f0ee, 0x0cf4eb, 0x0ff8e7, 0x13fce4, 0x16ffe1, 0x19ffde, 0x1cffdb,
    0x1fffd7, 0x23ffd4, 0x26ffd1, 0x29ffce, 0x2cffca, 0x30ffc7, 0x33ffc4, 0x36ffc1, 0x39ffbe,
    0x3cffba, 0x40ffb7, 0x43ffb4, 0x46ffb1, 0x49ffad, 0x4dffaa, 0x50ffa7, 0x53ffa4, 0x56ffa0,
    0x5aff9d, 0x5dff9a, 0x60ff97, 0x63ff94, 0x66ff90, 0x6aff8d, 0x6dff8a, 0x70ff87, 0x73ff83,
    0x77ff80, 0x7aff7d, 0x7dff7a, 0x80ff77, 0x83ff73, 0x87ff70, 0x8aff6d, 0x8dff6a, 0x90ff66,
    0x94ff63, 0x97ff60, 0x9aff5d, 0x9dff5a, 0xa0ff56, 0xa4ff53, 0xa7ff50, 0xaaff4d, 0xadff49,
    0xb1ff46, 0xb4ff43, 0xb7ff40, 0xbaff3c, 0xbeff39, 0xc1ff36, 0xc4ff33, 0xc7ff30, 0xcaff2c,
    0xceff29, 0xd1ff26, 0xd4ff23, 0xd7ff1f, 0xdbff1c, 0xdeff19, 0xe1ff16, 0xe4ff13, 0xe7ff0f,
    0xebff0c, 0xeeff09, 0xf1fc06, 0xf4f802, 0xf8f500, 0xfbf100, 0xfeed00, 0xffea00, 0xffe600,
    0xffe200, 0xffde00, 0xffdb00, 0xffd700, 0xffd300, 0xffd000, 0xffcc00, 0xffc800, 0xffc400,
    0xffc100, 0xffbd00, 0xffb900, 0xffb600, 0xffb200, 0xffae00, 0xffab00, 0xffa700, 0xffa300,
    0xff9f00, 0xff9c00, 0xff9800, 0xff9400, 0xff9100, 0xff8d00, 0xff8900, 0xff8600, 0xff8200,
    0xff7e00, 0xff7a00, 0xff7700, 0xff7300, 0xff6f00, 0xff6c00, 0xff6800, 0xff6400, 0xff6000,
    0xff5d00, 0xff5900, 0xff5500, 0xff5200, 0xff4e00, 0xff4a00, 0xff4700, 0xff4300, 0xff3f00,
    0xff3b00, 0xff3800, 0xff3400, 0xff3000, 0xff2d00, 0xff2900, 0xff2500, 0xff2200, 0xff1e00,
    0xff1a00, 0xff1600, 0xff1300, 0xfa0f00, 0xf60b00, 0xf10800, 0xed0400, 0xe80000, 0xe40000,
    0xdf0000, 0xda0000, 0xd60000, 0xd10000, 0xcd0000, 0xc80000, 0xc40000, 0xbf0000, 0xbb0000,
    0xb60000, 0xb20000, 0xad0000, 0xa80000, 0xa40000, 0x9f0000, 0x9b0000, 0x960000, 0x920000,
    0x8d0000, 0x890000, 0x840000, 0x800000,
};
constexpr uint32_t kRdBuTable[256] = {
    0x67001f, 0x6a011f, 0x6d0220, 0x700320, 0x730421, 0x760521, 0x790622, 0x7c0722, 0x7f0823,
    0x810823, 0x840924, 0x870a24, 0x8a0b25, 0x8d0c25, 0x900d26, 0x930e26, 0x960f27, 0x991027,
    0x9c1127, 0x9f1228, 0xa21328, 0xa51429, 0xa81529, 0xab162a, 0xae172a, 0xb1182b, 0xb3192c,
    0xb41c2d, 0xb61f2e, 0xb72230, 0xb82531, 0xba2832, 0xbb2a34, 0xbd2d35, 0xbe3036, 0xbf3338,
    0xc13639, 0xc2383a, 0xc43b3c, 0xc53e3d, 0xc6413e, 0xc84440, 0xc94741, 0xcb4942, 0xcc4c44,
    0xce4f45, 0xcf5246, 0xd05548, 0xd25849, 0xd35a4a, 0xd55d4c, 0xd6604d, 0xd7634f, 0xd86551,
    0xda6853, 0xdb6b55, 0xdc6e57, 0xdd7059, 0xde735c, 0xdf765e, 0xe17860, 0xe27b62, 0xe37e64,
    0xe48066, 0xe58368, 0xe6866a, 0xe8896c, 0xe98b6e, 0xea8e70, 0xeb9172, 0xec9374, 0xee9677,
    0xef9979, 0xf09c7b, 0xf19e7d, 0xf2a17f, 0xf3a481, 0xf4a683, 0xf5a886, 0xf5aa89, 0xf5ac8b,
    0xf6af8e, 0xf6b191, 0xf6b394, 0xf7b596, 0xf7b799, 0xf7b99c, 0xf8bb9e, 0xf8bda1, 0xf8bfa4,
    0xf9c2a7, 0xf9c4a9, 0xf9c6ac, 0xfac8af, 0xfacab1, 0xfbccb4, 0xfbceb7, 0xfbd0b9, 0xfcd3bc,
    0xfcd5bf, 0xfcd7c2, 0xfdd9c4, 0xfddbc7, 0xfddcc9, 0xfdddcb, 0xfcdecd, 0xfcdfcf, 0xfce0d0,
    0xfce2d2, 0xfbe3d4, 0xfbe4d6, 0xfbe5d8, 0xfbe6da, 0xfae7dc, 0xfae8de, 0xfae9df, 0xfaeae1,
    0xf9ebe3, 0xf9ede5, 0xf9eee7, 0xf9efe9, 0xf9f0eb, 0xf8f1ed, 0xf8f2ef, 0xf8f3f0, 0xf8f4f2,
    0xf7f5f4, 0xf7f6f6, 0xf6f7f7, 0xf5f6f7, 0xf3f5f6, 0xf2f5f6, 0xf0f4f6, 0xeff3f5, 0xedf2f5,
    0xecf2f5, 0xeaf1f5, 0xe9f0f4, 0xe7f0f4, 0xe6eff4, 0xe4eef4, 0xe3edf3, 0xe1edf3, 0xe0ecf3,
    0xdeebf2, 0xddebf2, 0xdbeaf2, 0xdae9f2, 0xd8e9f1, 0xd7e8f1, 0xd5e7f1, 0xd4e6f1, 0xd2e6f0,
    0xd1e5f0, 0xcfe4ef, 0xcce2ef, 0xcae1ee, 0xc7e0ed, 0xc5dfec, 0xc2ddec, 0xc0dceb, 0xbddbea,
    0xbbdaea, 0xb8d8e9, 0xb6d7e8, 0xb3d6e8, 0xb1d5e7, 0xaed3e6, 0xacd2e5, 0xa9d1e5, 0xa7d0e4,
    0xa5cee3, 0xa2cde3, 0xa0cce2, 0x9dcbe1, 0x9bc9e0, 0x98c8e0, 0x96c7df, 0x93c6de, 0x90c4dd,
    0x8dc2dc, 0x8ac0db, 0x87beda, 0x84bcd9, 0x81bad8, 0x7eb8d7, 0x7bb6d6, 0x78b4d5, 0x75b2d4,
    0x71b0d3, 0x6eaed2, 0x6bacd1, 0x68abd0, 0x65a9cf, 0x62a7ce, 0x5fa5cd, 0x5ca3cb, 0x59a1ca,
    0x569fc9, 0x529dc8, 0x4f9bc7, 0x4c99c6, 0x4997c5, 0x4695c4, 0x4393c3, 0x4291c2, 0x408fc1,
    0x3f8ec0, 0x3e8cbf, 0x3c8abe, 0x3b88be, 0x3a87bd, 0x3885bc, 0x3783bb, 0x3681ba, 0x3480b9,
    0x337eb8, 0x327cb7, 0x307ab6, 0x2f79b5, 0x2e77b5, 0x2c75b4, 0x2b73b3, 0x2a71b2, 0x2870b1,
    0x276eb0, 0x266caf, 0x246aae, 0x2369ad, 0x2267ac, 0x2065ab, 0x1f63a8, 0x1e61a5, 0x1d5fa2,
    0x1c5c9f, 0x1b5a9c, 0x1a5899, 0x195696, 0x185493, 0x175290, 0x15508d, 0x144e8a, 0x134c87,
    0x124984, 0x114781, 0x10457e, 0x0f437b, 0x0e4179, 0x0d3f76, 0x0c3d73, 0x0a3b70, 0x09386d,
    0x08366a, 0x073467, 0x063264, 0x053061,
};

const uint32_t* table_of(Colormap cmap) {
    switch (cmap) {
        case Colormap::kViridis:
            return kViridisTable;
        case Colormap::kInferno:
            return kInfernoTable;
        case Colormap::kJet:
            return kJetTable;
        case Colormap::kRdBu:
        case Colormap::kRdBuR:
            return kRdBuTable;
        case Colormap::kGray:
            return nullptr;
    }
    return nullptr;
}

uint8_t to_u8(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

float clamp01(float v, float if_nan = 0.f) {
    return std::isnan(v) ? if_nan : std::clamp(v, 0.f, 1.f);
}

// [H,W], [H,W,1] or [1,H,W,1].
void map_hw(const Tensor& t, int& h, int& w) {
    const Shape& s = t.shape();
    const bool ok =
        s.rank() == 2 || (s.rank() == 3 && s[2] == 1) || (s.rank() == 4 && s[0] == 1 && s[3] == 1);
    CNNLENS_ASSERT(ok);
    h = static_cast<int>(s.rank() == 4 ? s[1] : s[0]);
    w = static_cast<int>(s.rank() == 4 ? s[2] : s[1]);
}

Image blank(int w, int h, Rgba fill) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = 4;
    img.pixels.resize(static_cast<size_t>(w) * h * 4);
    for (size_t i = 0; i < img.pixels.size(); i += 4)
        std::copy(fill.begin(), fill.end(), &img.pixels[i]);
    return img;
}

void blend_pixel(Image& img, int x, int y, Rgba c) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 4];
    if (c[3] == 255) {
        std::copy(c.begin(), c.end(), p);
        return;
    }
    const float a = c[3] / 255.f;
    for (int k = 0; k < 3; ++k) p[k] = to_u8(a * c[k] + (1.f - a) * p[k]);
    p[3] = std::max(p[3], c[3]);
}

void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgba c) {
    for (int y = std::max(y0, 0); y < std::min(y1, img.height); ++y)
        for (int x = std::max(x0, 0); x < std::min(x1, img.width); ++x) blend_pixel(img, x, y, c);
}

// The map at w x h (resample() when the size differs).
std::vector<float> map_at(const Tensor& map, int w, int h) {
    int mh = 0, mw = 0;
    map_hw(map, mh, mw);
    if (mw == w && mh == h) return {map.data(), map.data() + map.size()};
    std::vector<float> out(static_cast<size_t>(w) * h);
    resample(map.data(), mw, mh, 1, out.data(), w, h);
    return out;
}

// Segment id under image pixel (x, y) when labels of label_w x label_h cover an img_w x img_h
// image.
struct LabelSampler {
    std::span<const int> labels;
    int lw, lh, iw, ih;
    int at(int x, int y) const {
        const int lx = static_cast<int>(static_cast<int64_t>(x) * lw / iw);
        const int ly = static_cast<int>(static_cast<int64_t>(y) * lh / ih);
        return labels[static_cast<size_t>(ly) * lw + lx];
    }
};

std::string printable(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if (c != '\n' && (c < 32 || c > 126)) c = '?';
    return s;
}

struct Quad {
    int x0, y0, x1, y1;
};

// stb_easy_font's quads for the text at the origin, in font pixels.
std::vector<Quad> font_quads(std::string_view text) {
    std::string s = printable(text);
    std::vector<char> buf(s.size() * 1024 + 64);
    const int n =
        stb_easy_font_print(0.f, 0.f, s.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
    std::vector<Quad> quads(static_cast<size_t>(n));
    for (int q = 0; q < n; ++q) {
        float v0[2], v2[2];
        std::memcpy(v0, &buf[static_cast<size_t>(q) * 64], sizeof v0);
        std::memcpy(v2, &buf[static_cast<size_t>(q) * 64 + 32], sizeof v2);
        quads[static_cast<size_t>(q)] = {
            static_cast<int>(std::lround(v0[0])), static_cast<int>(std::lround(v0[1])),
            static_cast<int>(std::lround(v2[0])), static_cast<int>(std::lround(v2[1]))};
    }
    return quads;
}

// Rows [top, bottom) that carry ink, in font pixels; labels are centred on their ink.
void ink_rows(std::string_view text, int& top, int& bottom) {
    top = std::numeric_limits<int>::max();
    bottom = 0;
    for (const Quad& q : font_quads(text)) {
        top = std::min(top, q.y0);
        bottom = std::max(bottom, q.y1);
    }
    if (bottom == 0) top = 0;
}

std::string tick_label(float v, float lo, float hi) {
    if (std::fabs(v) <= 1e-6f * std::max(std::fabs(lo), std::fabs(hi))) v = 0.f;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(v));
    return buf;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

Status write_bytes(const std::string& path, const std::vector<uint8_t>& bytes,
                   std::string_view what) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return not_found("cannot write " + std::string(what) + " '" + path +
                         "': " + std::strerror(errno));
    const size_t n = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
    const bool closed = std::fclose(f) == 0;
    if (n != bytes.size() || !closed)
        return Status(ErrorCode::kInternal, "writing " + std::string(what) + " '" + path +
                                                "' failed after " + std::to_string(n) + " of " +
                                                std::to_string(bytes.size()) + " bytes");
    return Status::ok();
}

}  // namespace

std::string_view colormap_name(Colormap cmap) {
    for (const ColormapInfo& c : kColormaps)
        if (c.colormap == cmap) return c.name;
    return "?";
}

Expected<Colormap> colormap_from_name(std::string_view name) {
    std::string known;
    for (const ColormapInfo& c : kColormaps) {
        if (lower(c.name) == lower(name)) return c.colormap;
        known += (known.empty() ? "" : ", ") + std::string(c.name);
    }
    return invalid_argument("unknown colormap '" + std::string(name) + "' (known: " + known + ")");
}

Rgba colormap_rgba(Colormap cmap, float t) {
    t = clamp01(t);
    if (cmap == Colormap::kRdBuR) t = 1.f - t;
    const uint32_t* table = table_of(cmap);
    if (!table) {
        const uint8_t g = to_u8(t * 255.f);
        return {g, g, g, 255};
    }
    const float pos = t * 255.f;
    const int i = std::min(static_cast<int>(pos), 254);
    const float f = pos - static_cast<float>(i);
    Rgba out{0, 0, 0, 255};
    for (int k = 0; k < 3; ++k) {
        const int shift = 16 - 8 * k;
        const float a = static_cast<float>((table[i] >> shift) & 0xff),
                    b = static_cast<float>((table[i + 1] >> shift) & 0xff);
        out[static_cast<size_t>(k)] = to_u8(a + (b - a) * f);
    }
    return out;
}

namespace {
constexpr std::array<std::pair<MapNorm, std::string_view>, 4> kMapNorms{{
    {MapNorm::kPercentile99, "p99"},
    {MapNorm::kMinMax, "minmax"},
    {MapNorm::kSignedPercentile99, "signed-p99"},
    {MapNorm::kSymmetricMaxAbs, "symmetric"},
}};
}  // namespace

std::string_view map_norm_name(MapNorm norm) {
    for (const auto& [n, name] : kMapNorms)
        if (n == norm) return name;
    return "?";
}

Expected<MapNorm> map_norm_from_name(std::string_view name) {
    std::string known;
    for (const auto& [n, s] : kMapNorms) {
        if (s == lower(name)) return n;
        known += (known.empty() ? "" : ", ") + std::string(s);
    }
    return invalid_argument("unknown map normalisation '" + std::string(name) +
                            "' (known: " + known + ")");
}

float percentile(std::span<const float> values, float p) {
    std::vector<float> v;
    v.reserve(values.size());
    for (float x : values)
        if (std::isfinite(x)) v.push_back(x);
    if (v.empty()) return 0.f;
    const double pos =
        std::clamp(static_cast<double>(p), 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
    const size_t k = static_cast<size_t>(pos);
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
    const double a = v[k];
    if (k + 1 >= v.size()) return static_cast<float>(a);
    const double b = *std::min_element(v.begin() + static_cast<ptrdiff_t>(k) + 1, v.end());
    return static_cast<float>(a + (b - a) * (pos - static_cast<double>(k)));
}

bool map_norm_is_signed(MapNorm norm) {
    return norm == MapNorm::kSignedPercentile99 || norm == MapNorm::kSymmetricMaxAbs;
}

NormalizedMap normalize_map(const Tensor& map, MapNorm norm) {
    int h = 0, w = 0;
    map_hw(map, h, w);
    NormalizedMap r{Tensor(map.shape()), 0.f, 0.f};
    const std::span<const float> s = map.span();
    float mn = std::numeric_limits<float>::infinity(), mx = -mn, max_abs = 0.f;
    for (float v : s)
        if (std::isfinite(v)) {
            mn = std::min(mn, v);
            mx = std::max(mx, v);
            max_abs = std::max(max_abs, std::fabs(v));
        }
    if (mn > mx) mn = mx = 0.f;
    const bool is_signed = map_norm_is_signed(norm);
    switch (norm) {
        case MapNorm::kPercentile99:
            r.lo = mn;
            r.hi = percentile(s, 99.f);
            break;
        case MapNorm::kMinMax:
            r.lo = mn;
            r.hi = mx;
            break;
        case MapNorm::kSignedPercentile99:
            r.hi = std::fabs(percentile(s, 99.f));
            r.lo = -r.hi;
            break;
        case MapNorm::kSymmetricMaxAbs:
            r.hi = max_abs;
            r.lo = -r.hi;
            break;
    }
    const float flat = is_signed ? 0.5f : 0.f;
    const float range = r.hi - r.lo;
    float* o = r.map.data();
    for (size_t i = 0; i < s.size(); ++i)
        o[i] = range > 0.f ? clamp01((s[i] - r.lo) / range, flat) : flat;
    return r;
}

Tensor mask_top_percent(const Tensor& map, float percent) {
    int h = 0, w = 0;
    map_hw(map, h, w);
    Tensor m(map.shape(), 0.f);
    if (percent <= 0.f) return m;
    if (percent >= 100.f) {
        std::fill_n(m.data(), m.size(), 1.f);
        return m;
    }
    const float t = percentile(map.span(), 100.f - percent);
    for (int64_t i = 0; i < map.size(); ++i) m[i] = map[i] >= t ? 1.f : 0.f;
    return m;
}

int otsu_threshold(std::span<const uint32_t, 256> hist) {
    double total = 0, sum = 0;
    for (int i = 0; i < 256; ++i) {
        total += hist[static_cast<size_t>(i)];
        sum += static_cast<double>(i) * hist[static_cast<size_t>(i)];
    }
    double w0 = 0, sum0 = 0, best = -1;
    int best_t = 0;
    for (int t = 0; t < 256; ++t) {
        w0 += hist[static_cast<size_t>(t)];
        sum0 += static_cast<double>(t) * hist[static_cast<size_t>(t)];
        const double w1 = total - w0;
        if (w0 == 0 || w1 == 0) continue;
        const double d = sum0 / w0 - (sum - sum0) / w1;
        const double between = w0 * w1 * d * d;
        if (between > best) {
            best = between;
            best_t = t;
        }
    }
    return best_t;
}

Tensor mask_otsu(const Tensor& map) {
    const NormalizedMap n = normalize_map(map, MapNorm::kMinMax);
    std::vector<uint8_t> q(static_cast<size_t>(map.size()));
    std::array<uint32_t, 256> hist{};
    for (size_t i = 0; i < q.size(); ++i) {
        q[i] = static_cast<uint8_t>(std::min(n.map[static_cast<int64_t>(i)] * 255.f, 255.f));
        ++hist[q[i]];
    }
    const int t = otsu_threshold(hist);
    Tensor m(map.shape());
    for (size_t i = 0; i < q.size(); ++i) m[static_cast<int64_t>(i)] = q[i] > t ? 1.f : 0.f;
    return m;
}

Tensor alpha_mask(const Tensor& normalised) {
    Tensor m(normalised.shape());
    for (int64_t i = 0; i < m.size(); ++i) m[i] = clamp01(normalised[i]);
    return m;
}

Image apply_mask(const Image& img, const Tensor& mask, uint8_t background) {
    const std::vector<float> m = map_at(mask, img.width, img.height);
    Image out = img;
    const int c = img.channels, colour = (c == 2 || c == 4) ? c - 1 : c;
    for (size_t p = 0; p < m.size(); ++p) {
        const float a = clamp01(m[p]);
        uint8_t* px = &out.pixels[p * static_cast<size_t>(c)];
        for (int k = 0; k < colour; ++k) px[k] = to_u8(a * px[k] + (1.f - a) * background);
    }
    return out;
}

Image to_rgba(const Image& img) {
    if (img.channels == 4) return img;
    Image out = blank(img.width, img.height, kBlack);
    const size_t n = static_cast<size_t>(img.width) * img.height;
    for (size_t p = 0; p < n; ++p) {
        const uint8_t* s = &img.pixels[p * static_cast<size_t>(img.channels)];
        uint8_t* d = &out.pixels[p * 4];
        if (img.channels >= 3) {
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        } else {
            d[0] = d[1] = d[2] = s[0];
        }
        d[3] = img.channels == 2 ? s[1] : 255;
    }
    return out;
}

Image colorize(const Tensor& normalised, Colormap cmap) {
    int h = 0, w = 0;
    map_hw(normalised, h, w);
    Image out = blank(w, h, kBlack);
    for (int64_t i = 0; i < normalised.size(); ++i) {
        const Rgba c = colormap_rgba(cmap, normalised[i]);
        std::copy(c.begin(), c.end(), &out.pixels[static_cast<size_t>(i) * 4]);
    }
    return out;
}

Image overlay(const Image& base, const Tensor& normalised, Colormap cmap, float alpha) {
    Image out = to_rgba(base);
    const std::vector<float> m = map_at(normalised, base.width, base.height);
    const float a = clamp01(alpha);
    for (size_t p = 0; p < m.size(); ++p) {
        const Rgba c = colormap_rgba(cmap, m[p]);
        uint8_t* px = &out.pixels[p * 4];
        for (int k = 0; k < 3; ++k)
            px[k] = to_u8((1.f - a) * px[k] + a * c[static_cast<size_t>(k)]);
    }
    return out;
}

Image overlay_in_frame(const Image& photo, const Tensor& normalised, const CropFrame& frame, Colormap cmap, float alpha) {
    Image out = to_rgba(photo);
    int mh = 0, mw = 0;
    map_hw(normalised, mh, mw);
    if (!(frame.width > 0 && frame.height > 0)) return out;
    const float a = clamp01(alpha);
    // Only the frame's bounding box can change.
    float x0 = static_cast<float>(out.width), y0 = static_cast<float>(out.height), x1 = 0, y1 = 0;
    for (const PointF& c : frame.corners()) {
        x0 = std::min(x0, c.x), y0 = std::min(y0, c.y);
        x1 = std::max(x1, c.x), y1 = std::max(y1, c.y);
    }
    const int ix0 = std::max(0, static_cast<int>(std::floor(x0))), iy0 = std::max(0, static_cast<int>(std::floor(y0)));
    const int ix1 = std::min(out.width, static_cast<int>(std::ceil(x1))), iy1 = std::min(out.height, static_cast<int>(std::ceil(y1)));
    const float sx = mw / frame.width, sy = mh / frame.height;
    const auto m = [&](int x, int y) { return normalised[static_cast<int64_t>(std::clamp(y, 0, mh - 1)) * mw + std::clamp(x, 0, mw - 1)]; };
    for (int y = iy0; y < iy1; ++y)
        for (int x = ix0; x < ix1; ++x) {
            const PointF c = frame.to_crop({x + 0.5f, y + 0.5f});
            if (!(c.x >= 0 && c.y >= 0 && c.x < frame.width && c.y < frame.height)) continue;
            const float u = c.x * sx - 0.5f, v = c.y * sy - 0.5f;
            const int u0 = static_cast<int>(std::floor(u)), v0 = static_cast<int>(std::floor(v));
            const float fu = u - u0, fv = v - v0;
            const float top = m(u0, v0) + fu * (m(u0 + 1, v0) - m(u0, v0));
            const float bottom = m(u0, v0 + 1) + fu * (m(u0 + 1, v0 + 1) - m(u0, v0 + 1));
            const Rgba col = colormap_rgba(cmap, top + fv * (bottom - top));
            uint8_t* px = &out.pixels[(static_cast<size_t>(y) * out.width + x) * 4];
            for (int k = 0; k < 3; ++k) px[k] = to_u8((1.f - a) * px[k] + a * col[static_cast<size_t>(k)]);
        }
    return out;
}

void draw_boundaries(Image& img, std::span<const int> labels, int label_w, int label_h, Rgb color) {
    CNNLENS_ASSERT(static_cast<int64_t>(labels.size()) == int64_t{label_w} * label_h);
    if (img.channels < 3) img = to_rgba(img);
    const LabelSampler seg{labels, label_w, label_h, img.width, img.height};
    const int c = img.channels;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            const int id = seg.at(x, y);
            const bool edge = (x + 1 < img.width && seg.at(x + 1, y) != id) ||
                              (y + 1 < img.height && seg.at(x, y + 1) != id);
            if (edge)
                std::copy(color.begin(), color.end(),
                          &img.pixels[(static_cast<size_t>(y) * img.width + x) * c]);
        }
}

Image paint_segments(const Image& base, std::span<const int> labels, int label_w, int label_h,
                     std::span<const int> positive, std::span<const int> negative, bool hide_rest) {
    CNNLENS_ASSERT(static_cast<int64_t>(labels.size()) == int64_t{label_w} * label_h);
    Image out = to_rgba(base);
    int max_id = 0;
    for (int id : labels) max_id = std::max(max_id, id);
    std::vector<int8_t> sign(static_cast<size_t>(max_id) + 1, 0);
    for (int id : positive)
        if (id >= 0 && id <= max_id) sign[static_cast<size_t>(id)] = 1;
    for (int id : negative)
        if (id >= 0 && id <= max_id) sign[static_cast<size_t>(id)] = -1;
    uint8_t top = 0;
    for (size_t i = 0; i < out.pixels.size(); ++i)
        if (i % 4 != 3) top = std::max(top, out.pixels[i]);
    const LabelSampler seg{labels, label_w, label_h, out.width, out.height};
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) {
            const int id = seg.at(x, y);
            const int s = id >= 0 ? sign[static_cast<size_t>(id)] : 0;
            uint8_t* px = &out.pixels[(static_cast<size_t>(y) * out.width + x) * 4];
            if (s > 0)
                px[1] = top;
            else if (s < 0)
                px[0] = top;
            else if (hide_rest)
                px[0] = px[1] = px[2] = 0;
        }
    return out;
}

Tensor segment_weight_map(std::span<const int> labels, int label_w, int label_h,
                          std::span<const float> weights) {
    CNNLENS_ASSERT(static_cast<int64_t>(labels.size()) == int64_t{label_w} * label_h);
    Tensor m(Shape{label_h, label_w});
    for (size_t i = 0; i < labels.size(); ++i) {
        const int id = labels[i];
        m[static_cast<int64_t>(i)] = id >= 0 && static_cast<size_t>(id) < weights.size()
                                         ? weights[static_cast<size_t>(id)]
                                         : 0.f;
    }
    return m;
}

int text_width(std::string_view text, int scale) {
    std::string s = printable(text);
    return stb_easy_font_width(s.data()) * scale;
}

int text_height(std::string_view text, int scale) {
    std::string s = printable(text);
    return stb_easy_font_height(s.data()) * scale;
}

void draw_text(Image& img, int x, int y, std::string_view text, Rgba color, int scale) {
    CNNLENS_ASSERT(img.channels == 4 && scale >= 1);
    for (const Quad& q : font_quads(text))
        fill_rect(img, x + q.x0 * scale, y + q.y0 * scale, x + q.x1 * scale, y + q.y1 * scale,
                  color);
}

Image label_image(std::string_view text, int scale, Rgba color, Rgba background, int pad) {
    Image img = blank(std::max(text_width(text, scale), 1) + 2 * pad,
                      std::max(text_height(text, scale), 1) + 2 * pad, background);
    draw_text(img, pad, pad, text, color, scale);
    return img;
}

Image colorbar(Colormap cmap, float lo, float hi, int width, int height, bool vertical,
               int text_scale) {
    CNNLENS_ASSERT(width > 0 && height > 0 && text_scale >= 1);
    const int s = text_scale, tick = 3 * s, gap = 2 * s;
    Image img = blank(width, height, kWhite);
    int ink_top = 0, ink_bottom = 0;
    ink_rows("0123456789.-e+", ink_top, ink_bottom);
    const int ink_h = (ink_bottom - ink_top) * s;
    const auto labels_for = [&](int n) {
        std::vector<std::string> l;
        for (int k = 0; k < n; ++k)
            l.push_back(tick_label(
                lo + (hi - lo) * static_cast<float>(k) / static_cast<float>(n - 1), lo, hi));
        return l;
    };
    const auto widest = [&](const std::vector<std::string>& l) {
        int m = 0;
        for (const auto& t : l) m = std::max(m, text_width(t, s));
        return m;
    };
    // The bar spans [b0, b1) along its axis and [c0, c1) across it; t runs from b0 to b1.
    int b0 = 0, b1 = vertical ? height : width, c0 = 0, c1 = vertical ? width : height;
    std::vector<std::string> labels;
    if (vertical) {
        for (int n : {5, 3, 2}) {
            labels = labels_for(n);
            const int len = height - ink_h - 2;
            if (len / (n - 1) >= ink_h + 2 * s && width - widest(labels) - tick - gap >= 4) break;
            labels.clear();
        }
        if (!labels.empty()) {
            b0 = ink_h / 2 + 1;
            b1 = height - (ink_h - ink_h / 2) - 1;
            c1 = width - widest(labels) - tick - gap;
        }
    } else {
        for (int n : {5, 3, 2}) {
            labels = labels_for(n);
            const int w0 = text_width(labels.front(), s), w1 = text_width(labels.back(), s);
            const int len = width - w0 / 2 - w1 / 2;
            if (len / (n - 1) >= widest(labels) + 4 * s && height - ink_h - tick - gap >= 4) {
                b0 = w0 / 2;
                b1 = width - w1 / 2;
                c1 = height - ink_h - tick - gap;
                break;
            }
            labels.clear();
        }
    }
    if (!labels.empty()) {
        ++b0;
        --b1;
        ++c0;
        --c1;
    }  // room for the outline
    const int len = std::max(b1 - b0, 2);
    for (int i = b0; i < b1; ++i) {
        const float t = static_cast<float>(i - b0) / static_cast<float>(len - 1);
        const Rgba c = colormap_rgba(cmap, vertical ? 1.f - t : t);
        if (vertical)
            fill_rect(img, c0, i, c1, i + 1, c);
        else
            fill_rect(img, i, c0, i + 1, c1, c);
    }
    if (labels.empty()) return img;
    const Rgba edge{64, 64, 64, 255};
    const int e0 = b0 - 1, e1 = b1 + 1, f0 = c0 - 1, f1 = c1 + 1;
    if (vertical) {
        fill_rect(img, f0, e0, f1, e0 + 1, edge);
        fill_rect(img, f0, e1 - 1, f1, e1, edge);
        fill_rect(img, f0, e0, f0 + 1, e1, edge);
        fill_rect(img, f1 - 1, e0, f1, e1, edge);
    } else {
        fill_rect(img, e0, f0, e1, f0 + 1, edge);
        fill_rect(img, e0, f1 - 1, e1, f1, edge);
        fill_rect(img, e0, f0, e0 + 1, f1, edge);
        fill_rect(img, e1 - 1, f0, e1, f1, edge);
    }
    const int n = static_cast<int>(labels.size());
    for (int k = 0; k < n; ++k) {
        const int along =
            b0 + static_cast<int>(std::lround(static_cast<double>(k) * (len - 1) / (n - 1)));
        const std::string& text = labels[static_cast<size_t>(k)];
        if (vertical) {
            const int y = b1 - 1 - (along - b0);
            fill_rect(img, f1, y, f1 + tick, y + s, kBlack);
            draw_text(img, f1 + tick + gap, y - ink_h / 2 - ink_top * s, text, kBlack, s);
        } else {
            fill_rect(img, along, f1, along + s, f1 + tick, kBlack);
            const int w = text_width(text, s);
            const int x = std::clamp(along - w / 2, 0, std::max(width - w, 0));
            draw_text(img, x, f1 + tick + gap - ink_top * s, text, kBlack, s);
        }
    }
    return img;
}

Image grid(const std::vector<Image>& tiles, const GridOptions& o) {
    const int columns = std::max(o.columns, 1), s = o.text_scale, pad = std::max(o.pad, 0);
    const int n = static_cast<int>(tiles.size());
    const int rows = (n + columns - 1) / columns;
    const auto caption = [&](int i) {
        return static_cast<size_t>(i) < o.captions.size()
                   ? std::string_view(o.captions[static_cast<size_t>(i)])
                   : std::string_view();
    };
    std::vector<int> col_w(static_cast<size_t>(columns), 0), row_h(static_cast<size_t>(rows), 0),
        cap_h(static_cast<size_t>(rows), 0);
    for (int i = 0; i < n; ++i) {
        const Image& t = tiles[static_cast<size_t>(i)];
        const size_t c = static_cast<size_t>(i % columns), r = static_cast<size_t>(i / columns);
        col_w[c] = std::max({col_w[c], t.width, text_width(caption(i), s)});
        row_h[r] = std::max(row_h[r], t.height);
        if (!caption(i).empty()) cap_h[r] = std::max(cap_h[r], text_height(caption(i), s) + 2 * s);
    }
    int head_w = 0, head_h = 0;
    for (const auto& t : o.row_headers) head_w = std::max(head_w, text_width(t, s));
    for (size_t c = 0; c < o.column_headers.size() && c < col_w.size(); ++c) {
        head_h = std::max(head_h, text_height(o.column_headers[c], s));
        col_w[c] = std::max(col_w[c], text_width(o.column_headers[c], s));
    }
    // Left / top edges of each column / row.
    std::vector<int> xs(static_cast<size_t>(columns) + 1), ys(static_cast<size_t>(rows) + 1);
    xs[0] = pad + (head_w ? head_w + pad : 0);
    ys[0] = pad + (head_h ? head_h + pad : 0);
    for (size_t c = 0; c < col_w.size(); ++c) xs[c + 1] = xs[c] + col_w[c] + pad;
    for (size_t r = 0; r < row_h.size(); ++r) ys[r + 1] = ys[r] + row_h[r] + cap_h[r] + pad;
    Image out = blank(std::max(xs.back(), 1), std::max(ys.back(), 1), o.background);
    for (int i = 0; i < n; ++i) {
        const Image& tile = tiles[static_cast<size_t>(i)];
        const size_t c = static_cast<size_t>(i % columns), r = static_cast<size_t>(i / columns);
        if (!tile.empty()) {
            const Image rgba = to_rgba(tile);
            const int tx = xs[c] + (col_w[c] - tile.width) / 2,
                      ty = ys[r] + (row_h[r] - tile.height) / 2;
            for (int y = 0; y < tile.height; ++y)
                for (int x = 0; x < tile.width; ++x) {
                    const uint8_t* p = &rgba.pixels[(static_cast<size_t>(y) * tile.width + x) * 4];
                    blend_pixel(out, tx + x, ty + y, {p[0], p[1], p[2], p[3]});
                }
        }
        const std::string_view cap = caption(i);
        if (!cap.empty())
            draw_text(out, xs[c] + (col_w[c] - text_width(cap, s)) / 2, ys[r] + row_h[r] + 2 * s,
                      cap, o.text_color, s);
    }
    for (size_t r = 0; r < o.row_headers.size() && r < row_h.size(); ++r) {
        const std::string& t = o.row_headers[r];
        draw_text(out, pad + head_w - text_width(t, s), ys[r] + (row_h[r] - text_height(t, s)) / 2,
                  t, o.text_color, s);
    }
    for (size_t c = 0; c < o.column_headers.size() && c < col_w.size(); ++c) {
        const std::string& t = o.column_headers[c];
        draw_text(out, xs[c] + (col_w[c] - text_width(t, s)) / 2, pad + head_h - text_height(t, s),
                  t, o.text_color, s);
    }
    return out;
}

Image grid(const std::vector<Image>& tiles, int columns, const std::vector<std::string>& captions,
           int pad, Rgba background) {
    GridOptions o;
    o.columns = columns;
    o.captions = captions;
    o.pad = pad;
    o.background = background;
    return grid(tiles, o);
}

Image upscale_nearest(const Image& img, int factor) {
    CNNLENS_ASSERT(factor >= 1);
    Image out;
    out.width = img.width * factor;
    out.height = img.height * factor;
    out.channels = img.channels;
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
    const size_t c = static_cast<size_t>(img.channels);
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x)
            std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * c],
                        &img.pixels[(static_cast<size_t>(y / factor) * img.width + x / factor) * c],
                        c);
    return out;
}

std::vector<uint8_t> encode_png(const Image& img) {
    CNNLENS_ASSERT(img.channels >= 1 && img.channels <= 4 && img.width > 0 && img.height > 0);
    CNNLENS_ASSERT(img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels);
    std::vector<uint8_t> bytes;
    const auto sink = [](void* ctx, void* data, int size) {
        auto* b = static_cast<std::vector<uint8_t>*>(ctx);
        b->insert(b->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
    };
    const int ok = stbi_write_png_to_func(sink, &bytes, img.width, img.height, img.channels,
                                          img.pixels.data(), img.width * img.channels);
    CNNLENS_ASSERT(ok);
    return bytes;
}

Status write_png(const std::string& path, const Image& img) {
    if (img.empty() || img.width <= 0 || img.height <= 0)
        return invalid_argument("cannot write PNG '" + path + "': the image is empty");
    if (img.channels < 1 || img.channels > 4)
        return invalid_argument("cannot write PNG '" + path + "': " + std::to_string(img.channels) +
                                " channels (1 to 4 supported)");
    if (img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
        return invalid_argument(
            "cannot write PNG '" + path + "': " + std::to_string(img.pixels.size()) +
            " bytes of pixels for a " + std::to_string(img.width) + "x" +
            std::to_string(img.height) + "x" + std::to_string(img.channels) + " image");
    return write_bytes(path, encode_png(img), "PNG");
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
    const Shape& shape = t.shape();
    CNNLENS_ASSERT(t.data() != nullptr || t.size() == 0);
    std::string dims;
    for (int i = 0; i < shape.rank(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.rank() == 1) dims += ",";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    const uint8_t preamble[10] = {0x93,
                                  'N',
                                  'U',
                                  'M',
                                  'P',
                                  'Y',
                                  1,
                                  0,
                                  static_cast<uint8_t>(header.size() & 0xff),
                                  static_cast<uint8_t>(header.size() >> 8)};
    const size_t data_at = sizeof preamble + header.size();
    std::vector<uint8_t> out(data_at + static_cast<size_t>(t.size()) * 4);
    std::memcpy(out.data(), preamble, sizeof preamble);
    std::memcpy(out.data() + sizeof preamble, header.data(), header.size());
    for (int64_t i = 0; i < t.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &t.data()[i], 4);
        for (int k = 0; k < 4; ++k)
            out[data_at + static_cast<size_t>(i) * 4 + static_cast<size_t>(k)] =
                static_cast<uint8_t>(u >> (8 * k));
    }
    return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
    if (t.data() == nullptr && t.size() != 0)
        return invalid_argument("cannot write npy '" + path + "': the tensor has no data");
    return write_bytes(path, encode_npy(t), "npy");
}

Expected<Tensor> decode_npy(std::span<const uint8_t> b, std::string_view name) {
    const std::string who = "npy '" + std::string(name) + "'";
    if (b.size() < 10 || b[0] != 0x93 || std::memcmp(&b[1], "NUMPY", 5) != 0)
        return corrupt(who + ": no NumPy magic string");
    const int major = b[6];
    if (major != 1 && major != 2)
        return unsupported(who + ": format version " + std::to_string(major) + "." +
                           std::to_string(b[7]) + " (1.0 and 2.0 supported)");
    const size_t len_bytes = major == 1 ? 2 : 4;
    if (b.size() < 8 + len_bytes) return corrupt(who + ": truncated header");
    size_t header_len = 0;
    for (size_t k = 0; k < len_bytes; ++k) header_len |= size_t{b[8 + k]} << (8 * k);
    const size_t data_at = 8 + len_bytes + header_len;
    if (data_at > b.size())
        return corrupt(who + ": header of " + std::to_string(header_len) +
                       " bytes runs past the end of the file");
    const std::string h(reinterpret_cast<const char*>(&b[8 + len_bytes]), header_len);
    const auto value_after = [&](std::string_view key) -> size_t {
        const size_t k = h.find(key);
        if (k == std::string::npos) return k;
        const size_t colon = h.find(':', k + key.size());
        return colon == std::string::npos ? colon : h.find_first_not_of(' ', colon + 1);
    };
    const size_t d = value_after("'descr'");
    if (d == std::string::npos || (h[d] != '\'' && h[d] != '"'))
        return corrupt(who + ": header has no 'descr'");
    const size_t d_end = h.find(h[d], d + 1);
    const std::string descr = h.substr(d + 1, d_end == std::string::npos ? 0 : d_end - d - 1);
    if (descr != "<f4")
        return unsupported(who + ": dtype '" + descr +
                           "' (only '<f4', little-endian float32, is read)");
    const size_t f = value_after("'fortran_order'");
    if (f == std::string::npos) return corrupt(who + ": header has no 'fortran_order'");
    if (h.compare(f, 4, "True") == 0)
        return unsupported(who + ": Fortran order (only C order is read)");
    const size_t s = value_after("'shape'");
    const size_t s_end = s == std::string::npos ? s : h.find(')', s);
    if (s == std::string::npos || h[s] != '(' || s_end == std::string::npos)
        return corrupt(who + ": header has no 'shape' tuple");
    Shape shape;
    int64_t count = 1;
    const size_t data_bytes = b.size() - data_at;
    for (size_t i = s + 1; i < s_end;) {
        i = h.find_first_not_of(" ,", i);
        if (i >= s_end) break;
        char* end = nullptr;
        const long long v = std::strtoll(h.c_str() + i, &end, 10);
        const size_t used = static_cast<size_t>(end - (h.c_str() + i));
        if (used == 0 || v < 0)
            return corrupt(who + ": bad shape '" + h.substr(s, s_end - s + 1) + "'");
        if (shape.rank() == kMaxRank)
            return unsupported(who + ": shape " + h.substr(s, s_end - s + 1) + " has more than " +
                               std::to_string(kMaxRank) + " dimensions");
        shape.push_back(v);
        count = v == 0 || count == 0
                    ? 0
                    : (static_cast<uint64_t>(v) > data_bytes / 4 / static_cast<uint64_t>(count)
                           ? -1
                           : count * v);
        if (count < 0)
            return corrupt(who + ": shape " + h.substr(s, s_end - s + 1) +
                           " needs more data than the " + std::to_string(data_bytes) +
                           " bytes present");
        i += used;
    }
    if (data_bytes < static_cast<size_t>(count) * 4)
        return corrupt(who + ": shape " + shape.str() + " needs " + std::to_string(count * 4) +
                       " data bytes, " + std::to_string(data_bytes) + " present");
    Tensor t(shape);
    for (int64_t i = 0; i < count; ++i) {
        const uint8_t* p = &b[data_at + static_cast<size_t>(i) * 4];
        const uint32_t u = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                           (uint32_t{p[3]} << 24);
        std::memcpy(&t.data()[i], &u, 4);
    }
    return t;
}

Expected<Tensor> read_npy(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return not_found("cannot open npy '" + path + "': " + std::strerror(errno));
    std::vector<uint8_t> bytes;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
    return decode_npy(bytes, path);
}

}  // namespace cnnlens
