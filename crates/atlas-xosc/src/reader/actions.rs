//! Actions: private actions (longitudinal, lateral, teleport, routing,
//! controller) with their dynamics, and global actions (environment,
//! entities, parameters).

use roxmltree::Node;

use super::{R, Reader, elements};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    /// A PrivateAction; `None` for one skipped under the lenient option.
    pub(super) fn private_action(&mut self, n: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let c = self.choice(n)?;
        Ok(match c.tag_name().name() {
            "LongitudinalAction" => self.longitudinal_action(c)?,
            "LateralAction" => self.lateral_action(c)?,
            "TeleportAction" => Some(PrivateAction::Teleport(self.position_in(c)?)),
            "RoutingAction" => self.routing_action(c)?,
            "SynchronizeAction" => Some(self.synchronize(c)?),
            "ActivateControllerAction" => Some(self.activate(c)?),
            "ControllerAction" => self.controller_action(c)?,
            "VisibilityAction" => Some(PrivateAction::Accepted("VisibilityAction")),
            "AppearanceAction" => Some(PrivateAction::Accepted("AppearanceAction")),
            _ => {
                self.unsupported(c, "this private action")?;
                None
            }
        })
    }

    /// A LongitudinalAction: a speed or a distance to another entity.
    fn longitudinal_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let a = self.choice(c)?;
        Ok(Some(match a.tag_name().name() {
            "SpeedAction" => {
                let d = self.dynamics(self.req_child(a, "SpeedActionDynamics")?)?;
                let t = self.choice(self.req_child(a, "SpeedActionTarget")?)?;
                let target = match t.tag_name().name() {
                    "AbsoluteTargetSpeed" => SpeedTarget::Absolute(self.num(t, "value")?),
                    "RelativeTargetSpeed" => SpeedTarget::Relative {
                        entity: self.string(t, "entityRef")?,
                        value: self.num(t, "value")?,
                        factor: match self.string(t, "speedTargetValueType")?.as_str() {
                            "delta" => false,
                            "factor" => true,
                            other => {
                                return Err(
                                    self.err(t, format!("unknown speedTargetValueType {other:?}"))
                                );
                            }
                        },
                        continuous: self.bool_or(t, "continuous", false)?,
                    },
                    _ => {
                        self.unsupported(t, "this speed target")?;
                        return Ok(None);
                    }
                };
                PrivateAction::Speed {
                    dynamics: d,
                    target,
                }
            }
            "LongitudinalDistanceAction" => {
                let distance = self.opt_num(a, "distance")?;
                let gap = self.opt_num(a, "timeGap")?;
                let (value, time_gap) = match (distance, gap) {
                    (Some(d), None) => (d, false),
                    (None, Some(g)) => (g, true),
                    _ => {
                        return Err(self.err(a, "give exactly one of distance and timeGap"));
                    }
                };
                if let Some(cs) = self.opt_string(a, "coordinateSystem")?
                    && cs != "entity"
                    && cs != "road"
                    && cs != "lane"
                {
                    self.unsupported(a, &format!("coordinateSystem {cs:?}"))?;
                }
                let leading = match self
                    .opt_string(a, "displacement")?
                    .as_deref()
                    .unwrap_or("trailingReferencedEntity")
                {
                    "leadingReferencedEntity" => true,
                    "trailingReferencedEntity" | "any" => false,
                    other => {
                        return Err(self.err(a, format!("unknown displacement {other:?}")));
                    }
                };
                PrivateAction::LongitudinalDistance {
                    entity: self.string(a, "entityRef")?,
                    value,
                    time_gap,
                    freespace: self.bool_or(a, "freespace", false)?,
                    continuous: self.bool_or(a, "continuous", false)?,
                    leading,
                }
            }
            _ => {
                self.unsupported(a, "this longitudinal action")?;
                return Ok(None);
            }
        }))
    }

    /// A LateralAction: a lane change or a lane offset.
    fn lateral_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let a = self.choice(c)?;
        Ok(Some(match a.tag_name().name() {
            "LaneChangeAction" => {
                let d = self.dynamics(self.req_child(a, "LaneChangeActionDynamics")?)?;
                let t = self.choice(self.req_child(a, "LaneChangeTarget")?)?;
                let target = match t.tag_name().name() {
                    "AbsoluteTargetLane" => LaneTarget::Absolute(self.int(t, "value")?),
                    "RelativeTargetLane" => LaneTarget::Relative {
                        entity: self.string(t, "entityRef")?,
                        value: self.int(t, "value")?,
                    },
                    _ => return Err(self.err(t, "unknown lane change target")),
                };
                PrivateAction::LaneChange {
                    dynamics: d,
                    target,
                    target_offset: self.opt_num(a, "targetLaneOffset")?.unwrap_or(0.0),
                }
            }
            "LaneOffsetAction" => {
                let d = self.req_child(a, "LaneOffsetActionDynamics")?;
                let shape = self.shape(d)?;
                let t = self.choice(self.req_child(a, "LaneOffsetTarget")?)?;
                let target = match t.tag_name().name() {
                    "AbsoluteTargetLaneOffset" => OffsetTarget::Absolute(self.num(t, "value")?),
                    "RelativeTargetLaneOffset" => OffsetTarget::Relative {
                        entity: self.string(t, "entityRef")?,
                        value: self.num(t, "value")?,
                    },
                    _ => return Err(self.err(t, "unknown lane offset target")),
                };
                PrivateAction::LaneOffset {
                    max_lateral_acc: self.opt_num(d, "maxLateralAcc")?,
                    shape,
                    target,
                    continuous: self.bool_or(a, "continuous", false)?,
                }
            }
            _ => {
                self.unsupported(a, "this lateral action")?;
                return Ok(None);
            }
        }))
    }

    /// A RoutingAction: a route, a position to reach or a trajectory.
    fn routing_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let a = self.choice(c)?;
        Ok(Some(match a.tag_name().name() {
            "AssignRouteAction" => {
                let r = self.choice(a)?;
                PrivateAction::AssignRoute(self.route_ref(r)?)
            }
            "AcquirePositionAction" => PrivateAction::AcquirePosition(self.position_in(a)?),
            "FollowTrajectoryAction" => self.follow_trajectory(a)?,
            _ => {
                self.unsupported(a, "this routing action")?;
                return Ok(None);
            }
        }))
    }

    /// A ControllerAction: controller assignment (recorded, the default
    /// controller or the policy stays in charge of the motion), activation
    /// and value overrides, in the 1.0/1.1 form (all three under one
    /// ControllerAction) and the 1.2 form (one each).
    fn controller_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let mut out = Vec::new();
        for a in elements(c) {
            match a.tag_name().name() {
                "ActivateControllerAction" => out.push(self.activate(a)?),
                "AssignControllerAction" => out.push(self.assign_controller(a)?),
                "OverrideControllerValueAction" => out.push(self.overrides(a)?),
                n @ ("OverrideThrottleAction"
                | "OverrideBrakeAction"
                | "OverrideClutchAction"
                | "OverrideParkingBrakeAction"
                | "OverrideSteeringWheelAction"
                | "OverrideGearAction") => {
                    let mut o = ControlOverrides::default();
                    self.override_channel(a, n.trim_start_matches("Override"), &mut o)?;
                    out.push(PrivateAction::OverrideControls(o));
                }
                _ => self.unsupported(a, "this controller action")?,
            }
        }
        // The actions that change something take the slot; ScenarioRunner's
        // files put an assignment and inactive overrides side by side.
        let rank = |a: &PrivateAction| match a {
            PrivateAction::OverrideControls(o) if o.sets_any() => 3,
            PrivateAction::ActivateController { .. } => 2,
            PrivateAction::AssignController { .. } => 1,
            _ => 0,
        };
        let mut best: Option<PrivateAction> = None;
        for a in out {
            if best.as_ref().is_none_or(|b| rank(&a) > rank(b)) {
                best = Some(a);
            }
        }
        Ok(best)
    }

    /// A SynchronizeAction: the master and both target positions, and the
    /// final speed (absolute, or relative to the master's) when given.
    fn synchronize(&mut self, c: Node<'d, 'i>) -> R<PrivateAction> {
        let master = self.string(c, "masterEntityRef")?;
        // Both targets are positions themselves (the choice inside).
        let master_target = self.position(self.req_child(c, "TargetPositionMaster")?)?;
        let target = self.position(self.req_child(c, "TargetPosition")?)?;
        for a in ["targetToleranceMaster", "targetTolerance"] {
            self.touch(c, a);
        }
        let final_speed = match self.child(c, "FinalSpeed") {
            None => None,
            Some(f) => {
                let s = self.choice(f)?;
                Some(match s.tag_name().name() {
                    "AbsoluteSpeed" => FinalSpeed::Absolute(self.num(s, "value")?),
                    "RelativeSpeedToMaster" => FinalSpeed::RelativeToMaster {
                        value: self.num(s, "value")?,
                        factor: match self.string(s, "speedTargetValueType")?.as_str() {
                            "delta" => false,
                            "factor" => true,
                            other => {
                                return Err(
                                    self.err(s, format!("unknown speedTargetValueType {other:?}"))
                                );
                            }
                        },
                    },
                    _ => return Err(self.err(s, "unknown final speed")),
                })
            }
        };
        Ok(PrivateAction::Synchronize {
            master,
            master_target,
            target,
            final_speed,
        })
    }

    fn assign_controller(&mut self, a: Node<'d, 'i>) -> R<PrivateAction> {
        let (name, module) = if let Some(c) = self.child(a, "Controller") {
            (
                self.opt_string(c, "name")?.unwrap_or_default(),
                self.controller_module(c)?,
            )
        } else if let Some(r) = self.child(a, "CatalogReference") {
            let entry = self.string(r, "entryName")?;
            let module = self.catalog_entry(r, |rd, node| rd.controller_module(node))?;
            (entry, module)
        } else if self.child(a, "ObjectController").is_some() {
            // 1.2 wraps the controller in an ObjectController.
            let oc = self.req_child(a, "ObjectController")?;
            match self.child(oc, "Controller") {
                Some(c) => (
                    self.opt_string(c, "name")?.unwrap_or_default(),
                    self.controller_module(c)?,
                ),
                None => (String::new(), None),
            }
        } else {
            (String::new(), None)
        };
        Ok(PrivateAction::AssignController {
            name,
            external: module.as_deref() == Some("external_control"),
        })
    }

    /// The `module` property of a Controller (ScenarioRunner's way to name
    /// the controller's implementation).
    fn controller_module(&mut self, c: Node<'d, 'i>) -> R<Option<String>> {
        let Some(props) = self.child(c, "Properties") else {
            return Ok(None);
        };
        for p in elements(props) {
            if p.has_tag_name("Property") && p.attribute("name") == Some("module") {
                return self.opt_string(p, "value");
            }
        }
        Ok(None)
    }

    /// OverrideControllerValueAction: Throttle, Brake, Clutch,
    /// ParkingBrake, SteeringWheel and Gear children (1.0/1.1), or their
    /// 1.2 names (OverrideThrottle, …).
    fn overrides(&mut self, a: Node<'d, 'i>) -> R<PrivateAction> {
        let mut o = ControlOverrides::default();
        for c in elements(a) {
            let name = c.tag_name().name();
            let channel = name.trim_start_matches("Override");
            self.override_channel(c, channel, &mut o)?;
        }
        Ok(PrivateAction::OverrideControls(o))
    }

    fn override_channel(
        &mut self,
        c: Node<'d, 'i>,
        channel: &str,
        o: &mut ControlOverrides,
    ) -> R<()> {
        let active = self.bool_or(c, "active", false)?;
        let unit = |r: &Self, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(r.err(c, format!("value {v} must be in 0..1")))
            }
        };
        match channel {
            "Throttle" | "ThrottleAction" => {
                let v = unit(self, self.num(c, "value")?)?;
                o.throttle = Some(active.then_some(v));
            }
            "Brake" | "BrakeAction" => {
                // 1.2 gives a BrakePercent or BrakeForce child instead.
                let v = match self.opt_num(c, "value")? {
                    Some(v) => v,
                    None => match self.child(c, "BrakePercent") {
                        Some(p) => self.num(p, "value")?,
                        None => {
                            self.unsupported(
                                c,
                                "a brake override without a value or BrakePercent",
                            )?;
                            return Ok(());
                        }
                    },
                };
                o.brake = Some(active.then_some(unit(self, v)?));
            }
            "Clutch" | "ClutchAction" => {
                let v = unit(self, self.num(c, "value")?)?;
                o.clutch = Some(active.then_some(v));
            }
            "ParkingBrake" | "ParkingBrakeAction" => {
                let v = match self.opt_num(c, "value")? {
                    Some(v) => v,
                    None => match self.child(c, "BrakePercent") {
                        Some(p) => self.num(p, "value")?,
                        None => 1.0,
                    },
                };
                o.parking_brake = Some(active.then_some(unit(self, v)?));
            }
            "SteeringWheel" | "SteeringWheelAction" => {
                let v = self.num(c, "value")?;
                o.steering_wheel = Some(active.then_some(v));
            }
            "Gear" | "GearAction" => {
                let n = match self.opt_num(c, "number")? {
                    Some(n) => n.round() as i32,
                    None => match self.child(c, "ManualGear") {
                        Some(m) => self.int(m, "number")?,
                        None => match self.child(c, "AutomaticGear") {
                            Some(g) => match self.string(g, "gear")?.as_str() {
                                "n" | "p" => 0,
                                "r" => -1,
                                "d" => 1,
                                other => {
                                    return Err(
                                        self.err(g, format!("unknown automatic gear {other:?}"))
                                    );
                                }
                            },
                            None => return Err(self.err(c, "lacks a gear number")),
                        },
                    },
                };
                o.gear = Some(active.then_some(n));
            }
            _ => self.unsupported(c, "this controller override")?,
        }
        Ok(())
    }

    fn activate(&self, a: Node) -> R<PrivateAction> {
        Ok(PrivateAction::ActivateController {
            lateral: self.bool_or(a, "lateral", true)?,
            longitudinal: self.bool_or(a, "longitudinal", true)?,
        })
    }

    /// A Route given inline or by CatalogReference: its waypoints.
    pub(super) fn route_ref(&mut self, r: Node<'d, 'i>) -> R<Vec<Position>> {
        match r.tag_name().name() {
            "Route" => self.route(r),
            "CatalogReference" => self.catalog_entry(r, |rd, node| {
                if !node.has_tag_name("Route") {
                    return Err(rd.err(node, "the catalog entry is not a Route"));
                }
                rd.route(node)
            }),
            _ => Err(self.err(r, "unknown route")),
        }
    }

    fn route(&mut self, r: Node<'d, 'i>) -> R<Vec<Position>> {
        let mut out = Vec::new();
        for w in elements(r) {
            match w.tag_name().name() {
                "Waypoint" => out.push(self.position_in(w)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(w, "this Route element")?,
            }
        }
        if out.len() < 2 {
            return Err(self.err(r, "a route needs at least two waypoints"));
        }
        Ok(out)
    }

    fn follow_trajectory(&mut self, a: Node<'d, 'i>) -> R<PrivateAction> {
        let traj = if let Some(t) = self.child(a, "Trajectory") {
            t
        } else if let Some(tr) = self.child(a, "TrajectoryRef") {
            let inner = self.choice(tr)?;
            if inner.has_tag_name("CatalogReference") {
                self.unsupported(inner, "a trajectory from a catalog")?;
                return Ok(PrivateAction::Accepted("skipped"));
            }
            inner
        } else {
            return Err(self.err(a, "lacks its <Trajectory> or <TrajectoryRef>"));
        };
        let shape = self.choice(self.req_child(traj, "Shape")?)?;
        if !shape.has_tag_name("Polyline") {
            self.unsupported(shape, "this trajectory shape (polylines are)")?;
            return Ok(PrivateAction::Accepted("skipped"));
        }
        let mut vertices = Vec::new();
        for v in elements(shape) {
            if !v.has_tag_name("Vertex") {
                self.unsupported(v, "this Polyline element")?;
                continue;
            }
            vertices.push(Vertex {
                time: self.opt_num(v, "time")?,
                position: self.position_in(v)?,
            });
        }
        if vertices.len() < 2 {
            return Err(self.err(shape, "a polyline needs at least two vertices"));
        }
        let mut timed = false;
        let (mut scale, mut offset, mut absolute) = (1.0, 0.0, false);
        if let Some(tr) = self.child(a, "TimeReference")
            && let Some(t) = self.child(tr, "Timing")
        {
            timed = true;
            scale = self.opt_num(t, "scale")?.unwrap_or(1.0);
            offset = self.opt_num(t, "offset")?.unwrap_or(0.0);
            absolute = self.opt_string(t, "domainAbsoluteRelative")?.as_deref() == Some("absolute");
            if vertices.iter().any(|v| v.time.is_none()) {
                return Err(self.err(t, "timing needs a time on every vertex"));
            }
            if vertices.windows(2).any(|w| w[1].time < w[0].time) || scale <= 0.0 {
                return Err(self.err(t, "vertex times must not decrease and scale must be > 0"));
            }
        }
        Ok(PrivateAction::FollowTrajectory {
            vertices,
            timed,
            scale,
            offset,
            absolute,
        })
    }

    fn shape(&self, d: Node) -> R<Shape> {
        Ok(match self.string(d, "dynamicsShape")?.as_str() {
            "step" => Shape::Step,
            "linear" => Shape::Linear,
            "cubic" => Shape::Cubic,
            "sinusoidal" => Shape::Sinusoidal,
            other => return Err(self.err(d, format!("unknown dynamicsShape {other:?}"))),
        })
    }

    fn dynamics(&self, d: Node) -> R<Dynamics> {
        let shape = self.shape(d)?;
        let dimension = match self.string(d, "dynamicsDimension")?.as_str() {
            "time" => Dimension::Time,
            "distance" => Dimension::Distance,
            "rate" => Dimension::Rate,
            other => return Err(self.err(d, format!("unknown dynamicsDimension {other:?}"))),
        };
        let mut value = self.num(d, "value")?;
        if dimension == Dimension::Rate {
            // A rate's sign is the direction the target lies in, which the
            // target already says: esmini takes its magnitude, and so here.
            value = value.abs();
        } else if value < 0.0 {
            return Err(self.err(d, format!("value {value} must be >= 0")));
        }
        Ok(Dynamics {
            shape,
            dimension,
            value,
        })
    }

    pub(super) fn global_action(&mut self, n: Node<'d, 'i>) -> R<Option<ActionKind>> {
        let c = self.choice(n)?;
        let g = match c.tag_name().name() {
            "EnvironmentAction" => {
                let what = elements(c)
                    .next()
                    .map(|e| {
                        e.attribute("name")
                            .or(e.attribute("entryName"))
                            .unwrap_or(e.tag_name().name())
                            .to_owned()
                    })
                    .unwrap_or_default();
                GlobalAction::Environment(what)
            }
            "EntityAction" => {
                let entity = self.string(c, "entityRef")?;
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "AddEntityAction" => GlobalAction::AddEntity {
                        entity,
                        position: self.position_in(a)?,
                    },
                    "DeleteEntityAction" => GlobalAction::DeleteEntity { entity },
                    _ => return Err(self.err(a, "unknown entity action")),
                }
            }
            "ParameterAction" => {
                let name = self.string(c, "parameterRef")?;
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "SetAction" => GlobalAction::ParameterSet {
                        name,
                        value: self.string(a, "value")?,
                    },
                    "ModifyAction" => {
                        let rule = self.choice(self.req_child(a, "Rule")?)?;
                        match rule.tag_name().name() {
                            "AddValue" => GlobalAction::ParameterAdd {
                                name,
                                value: self.num(rule, "value")?,
                            },
                            "MultiplyByValue" => GlobalAction::ParameterMultiply {
                                name,
                                value: self.num(rule, "value")?,
                            },
                            _ => return Err(self.err(rule, "unknown parameter modify rule")),
                        }
                    }
                    _ => return Err(self.err(a, "unknown parameter action")),
                }
            }
            _ => {
                self.unsupported(c, "this global action")?;
                return Ok(None);
            }
        };
        Ok(Some(ActionKind::Global(g)))
    }
}
