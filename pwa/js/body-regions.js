// Where on the body a mark is, in words ("left forearm, front"): boxes on the 200 × 420 outline,
// each with a centre on the body where choosing the region from a list puts the mark.
// The same table as server/incidents/body_regions.py (tests/test_body_regions.py keeps them
// equal), so the form and the record name a mark's place the same way.

const WIDTH = 200;
const HEIGHT = 420;

// BEGIN REGIONS (JSON)
export const REGIONS = {
  "front": [
    {"key": "head", "label": "head, front", "box": [72, 6, 128, 62], "centre": [100, 36]},
    {"key": "neck", "label": "neck, front", "box": [86, 62, 114, 80], "centre": [100, 70]},
    {"key": "right-shoulder", "label": "right shoulder, front", "box": [40, 78, 66, 108], "centre": [54, 94]},
    {"key": "left-shoulder", "label": "left shoulder, front", "box": [134, 78, 160, 108], "centre": [146, 94]},
    {"key": "right-upper-arm", "label": "right upper arm, front", "box": [32, 108, 64, 165], "centre": [46, 138]},
    {"key": "left-upper-arm", "label": "left upper arm, front", "box": [136, 108, 168, 165], "centre": [154, 138]},
    {"key": "right-forearm", "label": "right forearm, front", "box": [24, 165, 58, 226], "centre": [40, 196]},
    {"key": "left-forearm", "label": "left forearm, front", "box": [142, 165, 176, 226], "centre": [160, 196]},
    {"key": "right-hand", "label": "right hand, front", "box": [20, 226, 48, 254], "centre": [34, 240]},
    {"key": "left-hand", "label": "left hand, front", "box": [152, 226, 180, 254], "centre": [166, 240]},
    {"key": "right-chest", "label": "right chest, front", "box": [66, 80, 100, 150], "centre": [82, 115]},
    {"key": "left-chest", "label": "left chest, front", "box": [100, 80, 134, 150], "centre": [118, 115]},
    {"key": "right-abdomen", "label": "right abdomen, front", "box": [64, 150, 100, 198], "centre": [82, 174]},
    {"key": "left-abdomen", "label": "left abdomen, front", "box": [100, 150, 136, 198], "centre": [118, 174]},
    {"key": "pelvis", "label": "groin, front", "box": [64, 198, 136, 222], "centre": [100, 210]},
    {"key": "right-thigh", "label": "right thigh, front", "box": [66, 222, 100, 288], "centre": [85, 255]},
    {"key": "left-thigh", "label": "left thigh, front", "box": [100, 222, 134, 288], "centre": [115, 255]},
    {"key": "right-knee", "label": "right knee, front", "box": [66, 288, 100, 318], "centre": [84, 303]},
    {"key": "left-knee", "label": "left knee, front", "box": [100, 288, 134, 318], "centre": [116, 303]},
    {"key": "right-lower-leg", "label": "right shin, front", "box": [66, 318, 100, 388], "centre": [83, 352]},
    {"key": "left-lower-leg", "label": "left shin, front", "box": [100, 318, 134, 388], "centre": [117, 352]},
    {"key": "right-foot", "label": "right foot, front", "box": [60, 388, 100, 414], "centre": [80, 400]},
    {"key": "left-foot", "label": "left foot, front", "box": [100, 388, 140, 414], "centre": [120, 400]}
  ],
  "back": [
    {"key": "head", "label": "back of head", "box": [72, 6, 128, 62], "centre": [100, 36]},
    {"key": "neck", "label": "back of neck", "box": [86, 62, 114, 80], "centre": [100, 70]},
    {"key": "left-shoulder", "label": "left shoulder, back", "box": [40, 78, 66, 108], "centre": [54, 94]},
    {"key": "right-shoulder", "label": "right shoulder, back", "box": [134, 78, 160, 108], "centre": [146, 94]},
    {"key": "left-upper-arm", "label": "left upper arm, back", "box": [32, 108, 64, 165], "centre": [46, 138]},
    {"key": "right-upper-arm", "label": "right upper arm, back", "box": [136, 108, 168, 165], "centre": [154, 138]},
    {"key": "left-forearm", "label": "left forearm, back", "box": [24, 165, 58, 226], "centre": [40, 196]},
    {"key": "right-forearm", "label": "right forearm, back", "box": [142, 165, 176, 226], "centre": [160, 196]},
    {"key": "left-hand", "label": "left hand, back", "box": [20, 226, 48, 254], "centre": [34, 240]},
    {"key": "right-hand", "label": "right hand, back", "box": [152, 226, 180, 254], "centre": [166, 240]},
    {"key": "left-chest", "label": "left upper back", "box": [66, 80, 100, 150], "centre": [82, 115]},
    {"key": "right-chest", "label": "right upper back", "box": [100, 80, 134, 150], "centre": [118, 115]},
    {"key": "left-abdomen", "label": "left lower back", "box": [64, 150, 100, 198], "centre": [82, 174]},
    {"key": "right-abdomen", "label": "right lower back", "box": [100, 150, 136, 198], "centre": [118, 174]},
    {"key": "pelvis", "label": "buttocks, back", "box": [64, 198, 136, 222], "centre": [100, 210]},
    {"key": "left-thigh", "label": "back of left thigh", "box": [66, 222, 100, 288], "centre": [85, 255]},
    {"key": "right-thigh", "label": "back of right thigh", "box": [100, 222, 134, 288], "centre": [115, 255]},
    {"key": "left-knee", "label": "back of left knee", "box": [66, 288, 100, 318], "centre": [84, 303]},
    {"key": "right-knee", "label": "back of right knee", "box": [100, 288, 134, 318], "centre": [116, 303]},
    {"key": "left-lower-leg", "label": "left calf, back", "box": [66, 318, 100, 388], "centre": [83, 352]},
    {"key": "right-lower-leg", "label": "right calf, back", "box": [100, 318, 134, 388], "centre": [117, 352]},
    {"key": "left-foot", "label": "left heel, back", "box": [60, 388, 100, 414], "centre": [80, 400]},
    {"key": "right-foot", "label": "right heel, back", "box": [100, 388, 140, 414], "centre": [120, 400]}
  ]
};
// END REGIONS

function distance([x0, y0, x1, y1], x, y) {
  return Math.hypot(Math.max(x0 - x, 0, x - x1), Math.max(y0 - y, 0, y - y1));
}

// The region a mark at (x, y), fractions of the outline, falls in, or the nearest one.
export function regionAt(side, x, y) {
  const ux = x * WIDTH;
  const uy = y * HEIGHT;
  let best = null;
  for (const region of REGIONS[side]) {
    const d = distance(region.box, ux, uy);
    if (best === null || d < best.d) best = { region, d };
  }
  return best.region;
}

// Where a mark chosen from the list goes: the region's centre, as fractions of the outline.
export function centreOf(region) {
  return { x: region.centre[0] / WIDTH, y: region.centre[1] / HEIGHT };
}
