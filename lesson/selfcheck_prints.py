"""The specification's fingerprints that the tests' self-checks compare with (``lesson/selfcheck.py``).

Written by ``python -m autograder release`` from the reference solution and the course's list of known mistakes
(``autograder/release/visible_prints.py``); do not edit them by hand. Out: ``KNOWN_MISTAKES`` {name: what the
specification asks instead} and ``FINGERPRINTS`` {test: the fingerprints of the specification's answers, of its
layer traces and of the known mistakes' answers}.
"""
# ---- the specification's fingerprints: written by `python -m autograder release`; do not edit ----
FINGERPRINTS_DIGEST = 'c16b5aa9444fa479'
KNOWN_MISTAKES = {          # name: what the specification asks instead
    'only square targets handled (the top offset used for the left too)': 'a left offset of its own, (W - w) // 2, and a window of width new_shape[3]',
    'a float64 result (.double())': "the input's dtype: slice it, do not convert it",
    'a result of rank 3 (the batch dimension dropped)': 'a 4-D result (N, C, h, w)',
    'the top-left corner instead of the centre': 'the centre: top offset (H - h) // 2 and left offset (W - w) // 2',
    'height and width swapped': 'the top offset from the heights (image.shape[2], new_shape[2]) and the left offset from the widths (image.shape[3], new_shape[3])',
    'one pixel off the centre when the margin is even': 'exactly the middle on even margins: (H - h) // 2',
    'padding=1 in the convolutions': 'valid 3 x 3 convolutions: padding 0 (the default)',
    'channels not doubled': 'conv1 from C to 2C channels and conv2 from 2C to 2C',
    'max-pooling with stride 1': 'nn.MaxPool2d(kernel_size=2, stride=2)',
    'average pooling': 'nn.MaxPool2d(kernel_size=2, stride=2)',
    'a sigmoid for the ReLU': 'activation nn.ReLU()',
    'no ReLU after conv1': 'relu after each convolution',
    'no ReLU after conv2': 'relu after each convolution',
    'ReLU before each convolution instead of after': 'maxpool(relu(conv2(relu(conv1(x))))): the convolution first, then the ReLU',
    'conv1 with a 3 x 3 kernel': 'conv1 = nn.Conv2d(C, C // 2, kernel_size=2)',
    'nearest-neighbour upsampling': "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
    'align_corners=False': "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
    "the concatenation's order swapped": 'torch.cat([x, crop(skip)], dim=1): x first',
    'a ReLU after conv1': 'no activation between conv1 and the concatenation',
    'no ReLU after conv3': 'relu(conv3(...)): the block ends with a ReLU',
    'the skip cut from its top-left corner instead of with crop': "crop(skip_con_x, x.shape): the skip's centre",
    'an activation after the 1 x 1 convolution': 'forward returns self.conv(x) alone',
    'a 3 x 3 kernel with padding=1': 'nn.Conv2d(C_in, C_out, kernel_size=1)',
    'no bias': "nn.Conv2d's default bias=True",
    'the skips in the wrong order': 'expand1(x4, x3), expand2(x5, x2), expand3(x6, x1), expand4(x7, x0)',
    "the network's input x as the last skip instead of x0 = upfeature(x)": "expand4(x7, x0): the skip of the first level is upfeature's output",
    'a level left out (contract4 and expand1 skipped)': 'four contracting and four expanding blocks',
    'downfeature missing': 'return self.downfeature(x8): the 1 x 1 map to output_channels',
    'hidden_channels ignored (64 hard-coded)': 'the widths built from hidden_channels',
    'a sigmoid on the output': 'logits: return self.downfeature(x8), with no activation',
    'a ReLU on the output': 'logits: return self.downfeature(x8), with no activation',
}
FINGERPRINTS = {            # test: the fingerprints of the specification's answers and of the mistakes'
    'test_crop_shape': {
        'part': 'crop', 'tolerance': None, 'uses': {},
        'specification': [
            {'crop of (10, 4, 16, 20) to torch.Size([10, 4, 8, 12])': [[10, 4, 8, 12], 'float32'], 'crop of (10, 4, 16, 20) to the tuple (10, 4, 9, 6)': [[10, 4, 9, 6], 'float32']},
        ],
        'traces': [
        ],
        'mistakes': {
            'only square targets handled (the top offset used for the left too)': [
                {'crop of (10, 4, 16, 20) to torch.Size([10, 4, 8, 12])': [[10, 4, 8, 8], 'float32'], 'crop of (10, 4, 16, 20) to the tuple (10, 4, 9, 6)': [[10, 4, 9, 9], 'float32']},
            ],
            'a float64 result (.double())': [
                {'crop of (10, 4, 16, 20) to torch.Size([10, 4, 8, 12])': [[10, 4, 8, 12], 'float64'], 'crop of (10, 4, 16, 20) to the tuple (10, 4, 9, 6)': [[10, 4, 9, 6], 'float64']},
            ],
            'a result of rank 3 (the batch dimension dropped)': [
                {'crop of (10, 4, 16, 20) to torch.Size([10, 4, 8, 12])': [[4, 8, 12], 'float32'], 'crop of (10, 4, 16, 20) to the tuple (10, 4, 9, 6)': [[4, 9, 6], 'float32']},
            ],
        },
    },
    'test_crop_centre': {
        'part': 'crop', 'tolerance': 1e-09, 'uses': {},
        'specification': [
            {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [160560.0, 160560.0, 4693.463414634134]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [76050.0, 76050.0, 2017.4496644295286]]},
            {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [160560.0, 160560.0, 4693.463414634134]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [76200.0, 76200.0, 2017.449664429525]]},
            {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [160560.0, 160560.0, 4693.463414634134]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [91050.0, 91050.0, 2017.4496644295214]]},
            {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [160560.0, 160560.0, 4693.463414634134]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [91200.0, 91200.0, 2017.4496644295286]]},
        ],
        'traces': [
        ],
        'mistakes': {
            'the top-left corner instead of the centre': [
                {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [73008.0, 73008.0, 4693.463414634143]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [30300.0, 30300.0, 2017.4496644295314]]},
            ],
            'height and width swapped': [
                {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [189072.0, 189072.0, 4693.463414634149]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [105750.0, 105750.0, 2017.449664429525]]},
            ],
            'only square targets handled (the top offset used for the left too)': [
                {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 6], 'int64', [119988.0, 119988.0, 3522.1395348837177]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [75750.0, 75750.0, 2017.4496644295286]]},
            ],
            'one pixel off the centre when the margin is even': [
                {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'int64', [189648.0, 189648.0, 4693.463414634149]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float32', [76050.0, 76050.0, 2017.4496644295286]]},
            ],
            'a float64 result (.double())': [
                {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[2, 3, 6, 8], 'float64', [160560.0, 160560.0, 4693.463414634134]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[2, 3, 5, 5], 'float64', [76050.0, 76050.0, 2017.4496644295286]]},
            ],
            'a result of rank 3 (the batch dimension dropped)': [
                {'crop of an int64 (2, 3, 12, 16) image to (2, 3, 6, 8)': [[3, 6, 8], 'int64', [80280.0, 80280.0, 4709.874125874121]], 'crop of a float32 (2, 3, 12, 16) image to (2, 3, 5, 5)': [[3, 5, 5], 'float32', [38025.0, 38025.0, 2031.0810810810835]]},
            ],
        },
    },
    'test_contracting_block_shape': {
        'part': 'ContractingBlock', 'tolerance': None, 'uses': {},
        'specification': [
            {'ContractingBlock(10) on (5, 10, 50, 50)': [[5, 20, 23, 23], 'float32'], 'ContractingBlock(10) on (1, 10, 31, 40)': [[1, 20, 13, 18], 'float32']},
        ],
        'traces': [
            {'layers': {'conv1': {'type': 'Conv2d', 'in_channels': 10, 'out_channels': 20, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv2': {'type': 'Conv2d', 'in_channels': 20, 'out_channels': 20, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'activation': {'type': 'ReLU'}, 'maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}}, 'input': [[[5, 10, 50, 50], 'float32']], 'calls': [['conv1', [[[5, 10, 50, 50], 'float32']], [[5, 20, 48, 48], 'float32']], ['activation', [[[5, 20, 48, 48], 'float32']], [[5, 20, 48, 48], 'float32']], ['conv2', [[[5, 20, 48, 48], 'float32']], [[5, 20, 46, 46], 'float32']], ['activation', [[[5, 20, 46, 46], 'float32']], [[5, 20, 46, 46], 'float32']], ['maxpool', [[[5, 20, 46, 46], 'float32']], [[5, 20, 23, 23], 'float32']]]},
        ],
        'mistakes': {
            'padding=1 in the convolutions': [
                {'ContractingBlock(10) on (5, 10, 50, 50)': [[5, 20, 25, 25], 'float32'], 'ContractingBlock(10) on (1, 10, 31, 40)': [[1, 20, 15, 20], 'float32']},
            ],
            'channels not doubled': [
                {'ContractingBlock(10) on (5, 10, 50, 50)': [[5, 10, 23, 23], 'float32'], 'ContractingBlock(10) on (1, 10, 31, 40)': [[1, 10, 13, 18], 'float32']},
            ],
            'max-pooling with stride 1': [
                {'ContractingBlock(10) on (5, 10, 50, 50)': [[5, 20, 45, 45], 'float32'], 'ContractingBlock(10) on (1, 10, 31, 40)': [[1, 20, 26, 35], 'float32']},
            ],
        },
    },
    'test_contracting_block_layers': {
        'part': 'ContractingBlock', 'tolerance': 0.001, 'uses': {},
        'specification': [
            {'conv1(x)': [[2, 16, 9, 8], 'float32', [-356.9134, 4693.73, 56.08173]], 'conv2(conv1(x))': [[2, 16, 7, 6], 'float32', [1154.364, 9781.288, 41.80783]], 'activation(x)': [[2, 8, 11, 10], 'float32', [656.3554, 656.3554, -6.860693]], 'maxpool(x)': [[2, 8, 5, 5], 'float32', [390.8085, 404.5747, -0.4434462]]},
        ],
        'traces': [
            {'layers': {'conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'activation': {'type': 'ReLU'}, 'maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}}, 'input': [], 'calls': []},
        ],
        'mistakes': {
            'average pooling': [
                {'conv1(x)': [[2, 16, 9, 8], 'float32', [-356.9134, 4693.73, 56.08173]], 'conv2(conv1(x))': [[2, 16, 7, 6], 'float32', [1154.364, 9781.288, 41.80783]], 'activation(x)': [[2, 8, 11, 10], 'float32', [656.3554, 656.3554, -6.860693]], 'maxpool(x)': [[2, 8, 5, 5], 'float32', [-19.60068, 152.6536, -0.1344477]]},
            ],
            'padding=1 in the convolutions': [
                {'conv1(x)': [[2, 16, 11, 10], 'float32', [-386.3886, 6608.208, -13.22514]], 'conv2(conv1(x))': [[2, 16, 11, 10], 'float32', [1680.714, 22240.9, 165.5278]], 'activation(x)': [[2, 8, 11, 10], 'float32', [656.3554, 656.3554, -6.860693]], 'maxpool(x)': [[2, 8, 5, 5], 'float32', [390.8085, 404.5747, -0.4434462]]},
            ],
            'channels not doubled': [
                {'conv1(x)': [[2, 8, 9, 8], 'float32', [-93.79786, 2395.915, 42.38233]], 'conv2(conv1(x))': [[2, 8, 7, 6], 'float32', [262.1866, 3417.455, -18.73502]], 'activation(x)': [[2, 8, 11, 10], 'float32', [656.3554, 656.3554, -6.860693]], 'maxpool(x)': [[2, 8, 5, 5], 'float32', [390.8085, 404.5747, -0.4434462]]},
            ],
            'max-pooling with stride 1': [
                {'conv1(x)': [[2, 16, 9, 8], 'float32', [-356.9134, 4693.73, 56.08173]], 'conv2(conv1(x))': [[2, 16, 7, 6], 'float32', [1154.364, 9781.288, 41.80783]], 'activation(x)': [[2, 8, 11, 10], 'float32', [656.3554, 656.3554, -6.860693]], 'maxpool(x)': [[2, 8, 10, 9], 'float32', [1403.516, 1455.779, -22.66173]]},
            ],
            'a sigmoid for the ReLU': [
                {'conv1(x)': [[2, 16, 9, 8], 'float32', [-356.9134, 4693.73, 56.08173]], 'conv2(conv1(x))': [[2, 16, 7, 6], 'float32', [1154.364, 9781.288, 41.80783]], 'activation(x)': [[2, 8, 11, 10], 'float32', [863.8384, 863.8384, 1.407943]], 'maxpool(x)': [[2, 8, 5, 5], 'float32', [390.8085, 404.5747, -0.4434462]]},
            ],
        },
    },
    'test_contracting_block_forward': {
        'part': 'ContractingBlock', 'tolerance': 0.001, 'uses': {},
        'specification': [
            {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 8, 8], 'float32', [3064.485, 3064.485, -163.8969]]},
        ],
        'traces': [
            {'layers': {'conv1': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv2': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'activation': {'type': 'ReLU'}, 'maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}}, 'input': [[[2, 4, 20, 20], 'float32', [39.82493, 2507.815, -51.57478]]], 'calls': [['conv1', [[[2, 4, 20, 20], 'float32', [39.82493, 2507.815, -51.57478]]], [[2, 8, 18, 18], 'float32', [358.6541, 7672.143, -160.3233]]], ['activation', [[[2, 8, 18, 18], 'float32', [358.6541, 7672.143, -160.3233]]], [[2, 8, 18, 18], 'float32', [4015.398, 4015.398, -181.4654]]], ['conv2', [[[2, 8, 18, 18], 'float32', [4015.398, 4015.398, -181.4654]]], [[2, 8, 16, 16], 'float32', [436.8918, 9888.579, -194.2466]]], ['activation', [[[2, 8, 16, 16], 'float32', [436.8918, 9888.579, -194.2466]]], [[2, 8, 16, 16], 'float32', [5162.735, 5162.735, -275.9687]]], ['maxpool', [[[2, 8, 16, 16], 'float32', [5162.735, 5162.735, -275.9687]]], [[2, 8, 8, 8], 'float32', [3064.485, 3064.485, -163.8969]]]]},
        ],
        'mistakes': {
            'average pooling': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 8, 8], 'float32', [1290.684, 1290.684, -68.91772]]},
            ],
            'no ReLU after conv1': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 8, 8], 'float32', [4904.135, 4904.135, -401.5652]]},
            ],
            'no ReLU after conv2': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 8, 8], 'float32', [2958.668, 3170.302, -165.1929]]},
            ],
            'ReLU before each convolution instead of after': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 8, 8], 'float32', [2295.365, 2471.048, -343.7945]]},
            ],
            'padding=1 in the convolutions': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 10, 10], 'float32', [4491.564, 4491.564, -178.1394]]},
            ],
            'channels not doubled': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 4, 8, 8], 'float32', [1210.728, 1210.728, -40.32492]]},
            ],
            'max-pooling with stride 1': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 15, 15], 'float32', [10699.8, 10699.8, -564.4612]]},
            ],
            'a sigmoid for the ReLU': [
                {'ContractingBlock(4) on (2, 4, 20, 20)': [[2, 8, 8, 8], 'float32', [691.5523, 691.5523, -13.70579]]},
            ],
        },
    },
    'test_expanding_block_shape': {
        'part': 'ExpandingBlock', 'tolerance': None, 'uses': {'crop': ['test_crop_shape', 'test_crop_centre']},
        'specification': [
            {'ExpandingBlock(16) on x (2, 16, 12, 12) and skip (2, 8, 30, 30)': [[2, 8, 19, 19], 'float32'], 'ExpandingBlock(8) on x (1, 8, 10, 7) and skip (1, 4, 25, 20)': [[1, 4, 15, 9], 'float32']},
        ],
        'traces': [
            {'layers': {'upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv3': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'activation': {'type': 'ReLU'}}, 'input': [[[2, 16, 12, 12], 'float32'], [[2, 8, 30, 30], 'float32']], 'calls': [['upsample', [[[2, 16, 12, 12], 'float32']], [[2, 16, 24, 24], 'float32']], ['conv1', [[[2, 16, 24, 24], 'float32']], [[2, 8, 23, 23], 'float32']], ['conv2', [[[2, 16, 23, 23], 'float32']], [[2, 8, 21, 21], 'float32']], ['activation', [[[2, 8, 21, 21], 'float32']], [[2, 8, 21, 21], 'float32']], ['conv3', [[[2, 8, 21, 21], 'float32']], [[2, 8, 19, 19], 'float32']], ['activation', [[[2, 8, 19, 19], 'float32']], [[2, 8, 19, 19], 'float32']]]},
        ],
        'mistakes': {
            'conv1 with a 3 x 3 kernel': [
                {'ExpandingBlock(16) on x (2, 16, 12, 12) and skip (2, 8, 30, 30)': [[2, 8, 18, 18], 'float32'], 'ExpandingBlock(8) on x (1, 8, 10, 7) and skip (1, 4, 25, 20)': [[1, 4, 14, 8], 'float32']},
            ],
        },
    },
    'test_expanding_block_layers': {
        'part': 'ExpandingBlock', 'tolerance': 0.001, 'uses': {'crop': ['test_crop_shape', 'test_crop_centre']},
        'specification': [
            {'upsample(x)': [[2, 16, 14, 18], 'float32', [80.24597, 4265.413, 59.84082]], 'conv1(x)': [[2, 8, 6, 8], 'float32', [53.45689, 1302.039, 2.855907]], 'conv2(joined)': [[2, 8, 10, 8], 'float32', [159.1603, 3612.27, 17.99316]], 'conv3(conv2(joined))': [[2, 8, 8, 6], 'float32', [-220.9581, 5047.898, 245.5814]], 'activation(x)': [[2, 16, 7, 9], 'float32', [790.0854, 790.0854, 8.209963]]},
        ],
        'traces': [
            {'layers': {'upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv3': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'activation': {'type': 'ReLU'}}, 'input': [], 'calls': []},
        ],
        'mistakes': {
            'nearest-neighbour upsampling': [
                {'upsample(x)': [[2, 16, 14, 18], 'float32', [90.97589, 6229.708, 56.60467]], 'conv1(x)': [[2, 8, 6, 8], 'float32', [53.45689, 1302.039, 2.855907]], 'conv2(joined)': [[2, 8, 10, 8], 'float32', [159.1603, 3612.27, 17.99316]], 'conv3(conv2(joined))': [[2, 8, 8, 6], 'float32', [-220.9581, 5047.898, 245.5814]], 'activation(x)': [[2, 16, 7, 9], 'float32', [790.0854, 790.0854, 8.209963]]},
            ],
            'align_corners=False': [
                {'upsample(x)': [[2, 16, 14, 18], 'float32', [90.97589, 4182.284, 56.58973]], 'conv1(x)': [[2, 8, 6, 8], 'float32', [53.45689, 1302.039, 2.855907]], 'conv2(joined)': [[2, 8, 10, 8], 'float32', [159.1603, 3612.27, 17.99316]], 'conv3(conv2(joined))': [[2, 8, 8, 6], 'float32', [-220.9581, 5047.898, 245.5814]], 'activation(x)': [[2, 16, 7, 9], 'float32', [790.0854, 790.0854, 8.209963]]},
            ],
            'conv1 with a 3 x 3 kernel': [
                {'upsample(x)': [[2, 16, 14, 18], 'float32', [80.24597, 4265.413, 59.84082]], 'conv1(x)': [[2, 8, 5, 7], 'float32', [-27.89077, 1486.26, 81.00439]], 'conv2(joined)': [[2, 8, 10, 8], 'float32', [159.1603, 3612.27, 17.99316]], 'conv3(conv2(joined))': [[2, 8, 8, 6], 'float32', [-220.9581, 5047.898, 245.5814]], 'activation(x)': [[2, 16, 7, 9], 'float32', [790.0854, 790.0854, 8.209963]]},
            ],
        },
    },
    'test_expanding_block_forward': {
        'part': 'ExpandingBlock', 'tolerance': 0.001, 'uses': {'crop': ['test_crop_shape', 'test_crop_centre']},
        'specification': [
            {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [2971.455, 2971.455, 366.6733]]},
        ],
        'traces': [
            {'layers': {'upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 4, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv2': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'conv3': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'activation': {'type': 'ReLU'}}, 'input': [[[2, 8, 9, 9], 'float32', [39.92942, 1049.209, -6.672216]], [[2, 4, 21, 21], 'float32', [-65.3557, 2789.17, -29.43647]]], 'calls': [['upsample', [[[2, 8, 9, 9], 'float32', [39.92942, 1049.209, -6.672216]]], [[2, 8, 18, 18], 'float32', [173.9849, 2852.93, -42.38163]]], ['conv1', [[[2, 8, 18, 18], 'float32', [173.9849, 2852.93, -42.38163]]], [[2, 4, 17, 17], 'float32', [50.62684, 1967.811, 141.6421]]], ['conv2', [[[2, 8, 17, 17], 'float32', [42.89269, 3829.339, 39.9754]]], [[2, 4, 15, 15], 'float32', [90.28167, 3685.279, -176.8545]]], ['activation', [[[2, 4, 15, 15], 'float32', [90.28167, 3685.279, -176.8545]]], [[2, 4, 15, 15], 'float32', [1887.78, 1887.78, -119.2378]]], ['conv3', [[[2, 4, 15, 15], 'float32', [1887.78, 1887.78, -119.2378]]], [[2, 4, 13, 13], 'float32', [2300.361, 3642.549, 455.4541]]], ['activation', [[[2, 4, 13, 13], 'float32', [2300.361, 3642.549, 455.4541]]], [[2, 4, 13, 13], 'float32', [2971.455, 2971.455, 366.6733]]]]},
        ],
        'mistakes': {
            'nearest-neighbour upsampling': [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [3736.366, 3736.366, 381.0471]]},
            ],
            'align_corners=False': [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [2907.877, 2907.877, 354.8367]]},
            ],
            "the concatenation's order swapped": [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [2450.803, 2450.803, 268.033]]},
            ],
            'a ReLU after conv1': [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [2326.704, 2326.704, 315.1052]]},
            ],
            'no ReLU after conv3': [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [2300.361, 3642.549, 455.4541]]},
            ],
            'the skip cut from its top-left corner instead of with crop': [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 13, 13], 'float32', [2878.402, 2878.402, 350.8479]]},
            ],
            'conv1 with a 3 x 3 kernel': [
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 12, 12], 'float32', [3093.452, 3093.452, 520.3876]]},
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 12, 12], 'float32', [3052.495, 3052.495, 480.1128]]},
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 12, 12], 'float32', [3100.873, 3100.873, 547.2697]]},
                {'ExpandingBlock(8) on x (2, 8, 9, 9) and skip (2, 4, 21, 21)': [[2, 4, 12, 12], 'float32', [3121.574, 3121.574, 496.9201]]},
            ],
        },
    },
    'test_feature_map_block': {
        'part': 'FeatureMapBlock', 'tolerance': 0.001, 'uses': {},
        'specification': [
            {'FeatureMapBlock(10, 6) on (2, 10, 5, 7)': [[2, 6, 5, 7], 'float32', [-29.78835, 308.2966, 26.99366]]},
        ],
        'traces': [
            {'layers': {'conv': {'type': 'Conv2d', 'in_channels': 10, 'out_channels': 6, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}}, 'input': [[[2, 10, 5, 7], 'float32', [-30.5705, 565.2557, 29.17479]]], 'calls': [['conv', [[[2, 10, 5, 7], 'float32', [-30.5705, 565.2557, 29.17479]]], [[2, 6, 5, 7], 'float32', [-29.78835, 308.2966, 26.99366]]]]},
        ],
        'mistakes': {
            'an activation after the 1 x 1 convolution': [
                {'FeatureMapBlock(10, 6) on (2, 10, 5, 7)': [[2, 6, 5, 7], 'float32', [139.2541, 139.2541, 7.971181]]},
            ],
            'a 3 x 3 kernel with padding=1': [
                {'FeatureMapBlock(10, 6) on (2, 10, 5, 7)': [[2, 6, 5, 7], 'float32', [-109.9793, 860.6278, 9.039881]]},
            ],
            'no bias': [
                {'FeatureMapBlock(10, 6) on (2, 10, 5, 7)': [[2, 6, 5, 7], 'float32', [3.238058, 291.2392, 4.797202]]},
            ],
        },
    },
    'test_unet_shape': {
        'part': 'UNet', 'tolerance': None, 'uses': {'crop': ['test_crop_shape', 'test_crop_centre'], 'ContractingBlock': ['test_contracting_block_shape', 'test_contracting_block_layers', 'test_contracting_block_forward'], 'ExpandingBlock': ['test_expanding_block_shape', 'test_expanding_block_layers', 'test_expanding_block_forward'], 'FeatureMapBlock': ['test_feature_map_block']},
        'specification': [
            {'UNet(1, 3, hidden_channels=4) on (1, 1, 192, 176)': [[1, 3, 53, 37], 'float32']},
        ],
        'traces': [
            {'layers': {'upfeature.conv': {'type': 'Conv2d', 'in_channels': 1, 'out_channels': 4, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.conv1': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.conv2': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.activation': {'type': 'ReLU'}, 'contract1.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract2.conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract2.conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract2.activation': {'type': 'ReLU'}, 'contract2.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract3.conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract3.conv2': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract3.activation': {'type': 'ReLU'}, 'contract3.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract4.conv1': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 64, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract4.conv2': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 64, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract4.activation': {'type': 'ReLU'}, 'contract4.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'expand1.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand1.conv1': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 32, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.conv2': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.conv3': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.activation': {'type': 'ReLU'}, 'expand2.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand2.conv1': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 16, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.conv2': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.conv3': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.activation': {'type': 'ReLU'}, 'expand3.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand3.conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.conv3': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.activation': {'type': 'ReLU'}, 'expand4.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand4.conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 4, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.conv2': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.conv3': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.activation': {'type': 'ReLU'}, 'downfeature.conv': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 3, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}}, 'input': [[[1, 1, 192, 176], 'float32']], 'calls': [['upfeature', [[[1, 1, 192, 176], 'float32']], [[1, 4, 192, 176], 'float32']], ['contract1', [[[1, 4, 192, 176], 'float32']], [[1, 8, 94, 86], 'float32']], ['contract2', [[[1, 8, 94, 86], 'float32']], [[1, 16, 45, 41], 'float32']], ['contract3', [[[1, 16, 45, 41], 'float32']], [[1, 32, 20, 18], 'float32']], ['contract4', [[[1, 32, 20, 18], 'float32']], [[1, 64, 8, 7], 'float32']], ['expand1', [[[1, 64, 8, 7], 'float32'], [[1, 32, 20, 18], 'float32']], [[1, 32, 11, 9], 'float32']], ['expand2', [[[1, 32, 11, 9], 'float32'], [[1, 16, 45, 41], 'float32']], [[1, 16, 17, 13], 'float32']], ['expand3', [[[1, 16, 17, 13], 'float32'], [[1, 8, 94, 86], 'float32']], [[1, 8, 29, 21], 'float32']], ['expand4', [[[1, 8, 29, 21], 'float32'], [[1, 4, 192, 176], 'float32']], [[1, 4, 53, 37], 'float32']], ['downfeature', [[[1, 4, 53, 37], 'float32']], [[1, 3, 53, 37], 'float32']]]},
        ],
        'mistakes': {
            'the skips in the wrong order': [
                'RuntimeError: Given groups=1, weight of size [32, 64, 3, 3], expected input[1, 36, 15, 13] to have 64 channels, but got 36 channels instead',
            ],
            "the network's input x as the last skip instead of x0 = upfeature(x)": [
                'RuntimeError: Given groups=1, weight of size [4, 8, 3, 3], expected input[1, 5, 57, 41] to have 8 channels, but got 5 channels instead',
            ],
            'a level left out (contract4 and expand1 skipped)': [
                {'UNet(1, 3, hidden_channels=4) on (1, 1, 192, 176)': [[1, 3, 125, 109], 'float32']},
            ],
            'downfeature missing': [
                {'UNet(1, 3, hidden_channels=4) on (1, 1, 192, 176)': [[1, 4, 53, 37], 'float32']},
            ],
        },
    },
    'test_unet_layers': {
        'part': 'UNet', 'tolerance': 0.001, 'uses': {'crop': ['test_crop_shape', 'test_crop_centre'], 'ContractingBlock': ['test_contracting_block_shape', 'test_contracting_block_layers', 'test_contracting_block_forward'], 'ExpandingBlock': ['test_expanding_block_shape', 'test_expanding_block_layers', 'test_expanding_block_forward'], 'FeatureMapBlock': ['test_feature_map_block']},
        'specification': [
            {'upfeature.conv.weight': [[8, 2, 1, 1], 'float32', [0.6970552, 3.865929, -0.7194962]], 'downfeature.conv.weight': [[3, 8, 1, 1], 'float32', [-2.241488, 5.163102, 0.6094399]], 'contract1.conv1.weight': [[16, 8, 3, 3], 'float32', [12.85583, 272.6887, 7.827298]], 'contract1.conv2.weight': [[16, 16, 3, 3], 'float32', [14.08287, 548.1286, 6.198726]], 'contract2.conv1.weight': [[32, 16, 3, 3], 'float32', [17.28532, 1111.957, -18.65912]], 'contract2.conv2.weight': [[32, 32, 3, 3], 'float32', [15.04782, 2189.494, 9.500459]], 'contract3.conv1.weight': [[64, 32, 3, 3], 'float32', [4.419176, 4447.405, 22.00316]], 'contract3.conv2.weight': [[64, 64, 3, 3], 'float32', [-6.901758, 8888.537, 1.308846]], 'contract4.conv1.weight': [[128, 64, 3, 3], 'float32', [-46.63662, 17713.72, 4.700149]], 'contract4.conv2.weight': [[128, 128, 3, 3], 'float32', [-7.862106, 35320.11, -34.27072]], 'expand1.conv1.weight': [[64, 128, 2, 2], 'float32', [-18.4184, 7813.136, -11.7877]], 'expand1.conv2.weight': [[64, 128, 3, 3], 'float32', [-45.77075, 17620.99, -20.62581]], 'expand1.conv3.weight': [[64, 64, 3, 3], 'float32', [-67.48771, 8816.755, 84.47826]], 'expand2.conv1.weight': [[32, 64, 2, 2], 'float32', [58.06052, 1965.449, -32.96266]], 'expand2.conv2.weight': [[32, 64, 3, 3], 'float32', [-11.14474, 4436.354, -47.30465]], 'expand2.conv3.weight': [[32, 32, 3, 3], 'float32', [-5.042241, 2215.528, 19.21017]], 'expand3.conv1.weight': [[16, 32, 2, 2], 'float32', [-7.966038, 500.5325, 6.215131]], 'expand3.conv2.weight': [[16, 32, 3, 3], 'float32', [-5.377092, 1118.443, -27.22676]], 'expand3.conv3.weight': [[16, 16, 3, 3], 'float32', [14.20899, 535.5748, 8.501674]], 'expand4.conv1.weight': [[8, 16, 2, 2], 'float32', [8.81457, 123.8775, -2.611231]], 'expand4.conv2.weight': [[8, 16, 3, 3], 'float32', [1.0976, 270.3755, -1.941659]], 'expand4.conv3.weight': [[8, 8, 3, 3], 'float32', [7.239384, 133.4124, -1.803173]]},
        ],
        'traces': [
            {'layers': {'upfeature.conv': {'type': 'Conv2d', 'in_channels': 2, 'out_channels': 8, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.activation': {'type': 'ReLU'}, 'contract1.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract2.conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract2.conv2': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract2.activation': {'type': 'ReLU'}, 'contract2.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract3.conv1': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 64, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract3.conv2': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 64, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract3.activation': {'type': 'ReLU'}, 'contract3.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract4.conv1': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 128, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract4.conv2': {'type': 'Conv2d', 'in_channels': 128, 'out_channels': 128, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract4.activation': {'type': 'ReLU'}, 'contract4.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'expand1.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand1.conv1': {'type': 'Conv2d', 'in_channels': 128, 'out_channels': 64, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.conv2': {'type': 'Conv2d', 'in_channels': 128, 'out_channels': 64, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.conv3': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 64, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.activation': {'type': 'ReLU'}, 'expand2.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand2.conv1': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 32, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.conv2': {'type': 'Conv2d', 'in_channels': 64, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.conv3': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.activation': {'type': 'ReLU'}, 'expand3.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand3.conv1': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 16, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.conv2': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.conv3': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.activation': {'type': 'ReLU'}, 'expand4.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand4.conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.conv3': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.activation': {'type': 'ReLU'}, 'downfeature.conv': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 3, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}}, 'input': [], 'calls': []},
        ],
        'mistakes': {
            'hidden_channels ignored (64 hard-coded)': [
                {'upfeature.conv.weight': [[64, 2, 1, 1], 'float32', [3.658948, 32.73191, 0.1708433]], 'downfeature.conv.weight': [[3, 64, 1, 1], 'float32', [-7.594837, 46.40309, 2.8287]], 'contract1.conv1.weight': [[128, 64, 3, 3], 'float32', [15.97822, 17633.32, -26.18603]], 'contract1.conv2.weight': [[128, 128, 3, 3], 'float32', [-186.3485, 35445.33, -14.36798]], 'contract2.conv1.weight': [[256, 128, 3, 3], 'float32', [196.8119, 70600.46, 16.52685]], 'contract2.conv2.weight': [[256, 256, 3, 3], 'float32', [-175.9023, 141203.7, -384.5764]], 'contract3.conv1.weight': [[512, 256, 3, 3], 'float32', [-209.9567, 282447.6, 55.60007]], 'contract3.conv2.weight': [[512, 512, 3, 3], 'float32', [283.025, 565026.1, 297.6877]], 'contract4.conv1.weight': [[1024, 512, 3, 3], 'float32', [-765.3896, 1130043.0, 278.1621]], 'contract4.conv2.weight': [[1024, 1024, 3, 3], 'float32', [154.8162, 2259292.0, -179.618]], 'expand1.conv1.weight': [[512, 1024, 2, 2], 'float32', [-282.7201, 502066.3, 147.1836]], 'expand1.conv2.weight': [[512, 1024, 3, 3], 'float32', [285.345, 1129277.0, -151.923]], 'expand1.conv3.weight': [[512, 512, 3, 3], 'float32', [-646.4497, 564744.1, -262.392]], 'expand2.conv1.weight': [[256, 512, 2, 2], 'float32', [195.0655, 125445.8, 138.4357]], 'expand2.conv2.weight': [[256, 512, 3, 3], 'float32', [144.5395, 282673.8, -12.67048]], 'expand2.conv3.weight': [[256, 256, 3, 3], 'float32', [-465.9667, 141279.7, 190.6337]], 'expand3.conv1.weight': [[128, 256, 2, 2], 'float32', [-170.0664, 31505.57, -30.34395]], 'expand3.conv2.weight': [[128, 256, 3, 3], 'float32', [-120.0424, 70509.59, 14.17932]], 'expand3.conv3.weight': [[128, 128, 3, 3], 'float32', [34.57182, 35168.68, -139.2668]], 'expand4.conv1.weight': [[64, 128, 2, 2], 'float32', [51.47164, 7834.398, -0.3334614]], 'expand4.conv2.weight': [[64, 128, 3, 3], 'float32', [34.63769, 17635.59, 28.31518]], 'expand4.conv3.weight': [[64, 64, 3, 3], 'float32', [-51.84795, 8844.216, 46.95582]]},
            ],
        },
    },
    'test_unet_forward': {
        'part': 'UNet', 'tolerance': 0.001, 'uses': {'crop': ['test_crop_shape', 'test_crop_centre'], 'ContractingBlock': ['test_contracting_block_shape', 'test_contracting_block_layers', 'test_contracting_block_forward'], 'ExpandingBlock': ['test_expanding_block_shape', 'test_expanding_block_layers', 'test_expanding_block_forward'], 'FeatureMapBlock': ['test_feature_map_block']},
        'specification': [
            {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-307868.6, 308090.5, -166181.3]]},
            {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-312536.8, 312751.3, -169534.9]]},
            {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-310290.1, 310511.8, -169282.0]]},
            {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-313869.3, 314091.3, -172986.4]]},
        ],
        'traces': [
            {'layers': {'upfeature.conv': {'type': 'Conv2d', 'in_channels': 1, 'out_channels': 2, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.conv1': {'type': 'Conv2d', 'in_channels': 2, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.conv2': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract1.activation': {'type': 'ReLU'}, 'contract1.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract2.conv1': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract2.conv2': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract2.activation': {'type': 'ReLU'}, 'contract2.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract3.conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract3.conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract3.activation': {'type': 'ReLU'}, 'contract3.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'contract4.conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract4.conv2': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 32, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'contract4.activation': {'type': 'ReLU'}, 'contract4.maxpool': {'type': 'MaxPool2d', 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}, 'expand1.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand1.conv1': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 16, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.conv2': {'type': 'Conv2d', 'in_channels': 32, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.conv3': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 16, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand1.activation': {'type': 'ReLU'}, 'expand2.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand2.conv1': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.conv2': {'type': 'Conv2d', 'in_channels': 16, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.conv3': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 8, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand2.activation': {'type': 'ReLU'}, 'expand3.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand3.conv1': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 4, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.conv2': {'type': 'Conv2d', 'in_channels': 8, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.conv3': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 4, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand3.activation': {'type': 'ReLU'}, 'expand4.upsample': {'type': 'Upsample', 'scale_factor': 2.0, 'size': None, 'mode': 'bilinear', 'align_corners': True}, 'expand4.conv1': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 2, 'kernel_size': [2, 2], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.conv2': {'type': 'Conv2d', 'in_channels': 4, 'out_channels': 2, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.conv3': {'type': 'Conv2d', 'in_channels': 2, 'out_channels': 2, 'kernel_size': [3, 3], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}, 'expand4.activation': {'type': 'ReLU'}, 'downfeature.conv': {'type': 'Conv2d', 'in_channels': 2, 'out_channels': 2, 'kernel_size': [1, 1], 'stride': [1, 1], 'padding': [0, 0], 'dilation': [1, 1], 'groups': 1, 'bias': True}}, 'input': [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], 'calls': [['upfeature', [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], ['contract1', [[[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], ['contract2', [[[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], ['contract3', [[[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], ['contract4', [[[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]]], ['expand1', [[[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 16, 11, 9], 'float32', [2276190.0, 2276190.0, 366180.1]]], ['expand2', [[[2, 16, 11, 9], 'float32', [2276190.0, 2276190.0, 366180.1]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 8, 17, 13], 'float32', [42908340.0, 42908340.0, 4281053.0]]], ['expand3', [[[2, 8, 17, 13], 'float32', [42908340.0, 42908340.0, 4281053.0]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 4, 29, 21], 'float32', [267117.1, 267117.1, 119867.6]]], ['expand4', [[[2, 4, 29, 21], 'float32', [267117.1, 267117.1, 119867.6]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 2, 53, 37], 'float32', [489154.7, 489154.7, 174893.6]]], ['downfeature', [[[2, 2, 53, 37], 'float32', [489154.7, 489154.7, 174893.6]]], [[2, 2, 53, 37], 'float32', [-307868.6, 308090.5, -166181.3]]]]},
            {'layers': {}, 'input': [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], 'calls': [['upfeature', [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], ['contract1', [[[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], ['contract2', [[[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], ['contract3', [[[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], ['contract4', [[[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]]], ['expand1', [[[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 16, 11, 9], 'float32', [2276135.0, 2276135.0, 366092.9]]], ['expand2', [[[2, 16, 11, 9], 'float32', [2276135.0, 2276135.0, 366092.9]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 8, 17, 13], 'float32', [42908800.0, 42908800.0, 4281825.0]]], ['expand3', [[[2, 8, 17, 13], 'float32', [42908800.0, 42908800.0, 4281825.0]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 4, 29, 21], 'float32', [268084.8, 268084.8, 120333.3]]], ['expand4', [[[2, 4, 29, 21], 'float32', [268084.8, 268084.8, 120333.3]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 2, 53, 37], 'float32', [496341.1, 496341.1, 178590.3]]], ['downfeature', [[[2, 2, 53, 37], 'float32', [496341.1, 496341.1, 178590.3]]], [[2, 2, 53, 37], 'float32', [-312536.8, 312751.3, -169534.9]]]]},
            {'layers': {}, 'input': [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], 'calls': [['upfeature', [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], ['contract1', [[[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], ['contract2', [[[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], ['contract3', [[[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], ['contract4', [[[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]]], ['expand1', [[[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 16, 11, 9], 'float32', [2276308.0, 2276308.0, 366269.8]]], ['expand2', [[[2, 16, 11, 9], 'float32', [2276308.0, 2276308.0, 366269.8]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 8, 17, 13], 'float32', [42905220.0, 42905220.0, 4282643.0]]], ['expand3', [[[2, 8, 17, 13], 'float32', [42905220.0, 42905220.0, 4282643.0]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 4, 29, 21], 'float32', [270144.3, 270144.3, 122722.4]]], ['expand4', [[[2, 4, 29, 21], 'float32', [270144.3, 270144.3, 122722.4]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 2, 53, 37], 'float32', [493077.3, 493077.3, 179217.0]]], ['downfeature', [[[2, 2, 53, 37], 'float32', [493077.3, 493077.3, 179217.0]]], [[2, 2, 53, 37], 'float32', [-310290.1, 310511.8, -169282.0]]]]},
            {'layers': {}, 'input': [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], 'calls': [['upfeature', [[[2, 1, 192, 176], 'float32', [5.582023, 53808.43, 41.26284]]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], ['contract1', [[[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], ['contract2', [[[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], ['contract3', [[[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], ['contract4', [[[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]]], ['expand1', [[[2, 32, 8, 7], 'float32', [105305.8, 105305.8, 9744.917]], [[2, 16, 20, 18], 'float32', [31453.96, 31453.96, 8831.148]]], [[2, 16, 11, 9], 'float32', [2276225.0, 2276225.0, 366243.7]]], ['expand2', [[[2, 16, 11, 9], 'float32', [2276225.0, 2276225.0, 366243.7]], [[2, 8, 45, 41], 'float32', [25154.91, 25154.91, 999.3765]]], [[2, 8, 17, 13], 'float32', [42902180.0, 42902180.0, 4284387.0]]], ['expand3', [[[2, 8, 17, 13], 'float32', [42902180.0, 42902180.0, 4284387.0]], [[2, 4, 94, 86], 'float32', [27363.97, 27363.97, 703.6641]]], [[2, 4, 29, 21], 'float32', [268832.0, 268832.0, 122132.4]]], ['expand4', [[[2, 4, 29, 21], 'float32', [268832.0, 268832.0, 122132.4]], [[2, 2, 192, 176], 'float32', [47200.61, 56971.45, -2182.547]]], [[2, 2, 53, 37], 'float32', [498581.5, 498581.5, 183805.7]]], ['downfeature', [[[2, 2, 53, 37], 'float32', [498581.5, 498581.5, 183805.7]]], [[2, 2, 53, 37], 'float32', [-313869.3, 314091.3, -172986.4]]]]},
        ],
        'mistakes': {
            'a sigmoid on the output': [
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [1927.14, 1927.14, -459.3073]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [1877.271, 1877.271, -465.2375]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [1916.652, 1916.652, -464.0969]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [1912.288, 1912.288, -461.7621]]},
            ],
            'a ReLU on the output': [
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [110.9569, 110.9569, -48.82778]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [107.2203, 107.2203, -48.17799]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [110.8709, 110.8709, -49.23727]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [110.9613, 110.9613, -49.10459]]},
            ],
            'the skips in the wrong order': [
                'RuntimeError: Given groups=1, weight of size [16, 32, 3, 3], expected input[2, 18, 15, 13] to have 32 channels, but got 18 channels instead',
            ],
            "the network's input x as the last skip instead of x0 = upfeature(x)": [
                'RuntimeError: Given groups=1, weight of size [2, 4, 3, 3], expected input[2, 3, 57, 41] to have 4 channels, but got 3 channels instead',
            ],
            'a level left out (contract4 and expand1 skipped)': [
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 125, 109], 'float32', [-78841.75, 79141.85, -19627.25]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 125, 109], 'float32', [-78774.38, 79077.07, -19602.73]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 125, 109], 'float32', [-78807.26, 79106.98, -19604.52]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 125, 109], 'float32', [-78825.14, 79125.66, -19617.65]]},
            ],
            'hidden_channels ignored (64 hard-coded)': [
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-1.592242e+24, 1.592242e+24, -1.416906e+23]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-1.592242e+24, 1.592242e+24, -1.41691e+23]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-1.592244e+24, 1.592244e+24, -1.416902e+23]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [-1.592244e+24, 1.592244e+24, -1.416897e+23]]},
            ],
            'downfeature missing': [
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [489154.7, 489154.7, 174893.6]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [496341.1, 496341.1, 178590.3]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [493077.3, 493077.3, 179217.0]]},
                {'UNet(1, 2, hidden_channels=2) on (2, 1, 192, 176)': [[2, 2, 53, 37], 'float32', [498581.5, 498581.5, 183805.7]]},
            ],
        },
    },
}
# ---- end of the fingerprints ----
